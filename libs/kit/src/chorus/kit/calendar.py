"""The UTC calendar the services name periods by: a day "2026-12-02", an ISO
week "2026-W49", a month "2026-12", a quarter "2026-Q4"."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# [0-9], not \d: Python's \d matches every script's digits.
DAY_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WEEK_NAME = re.compile(r"([0-9]{4})-W([0-9]{2})")
MONTH_NAME = re.compile(r"([0-9]{4})-([0-9]{2})")
QUARTER_NAME = re.compile(r"([0-9]{4})-Q([0-9])")


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def week_start(day: date) -> date:
    """The Monday of the day's ISO week."""
    return day - timedelta(days=day.weekday())
