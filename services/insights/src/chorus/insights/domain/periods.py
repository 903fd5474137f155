"""Report periods on the UTC calendar: a day, an ISO week, a month, a
quarter, or a custom range of days. A period is half-open, [start, end)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

# Longest custom range a report covers (a year and a day: leap years).
MAX_RANGE_DAYS = 367


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    RANGE = "range"


class InvalidPeriod(ValueError):
    """A period that does not exist or cannot be reported on."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end


# [0-9], not \d: Python's \d matches every script's digits.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


def _day(text: str) -> date:
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidPeriod(f"{text!r} is not a day (YYYY-MM-DD)")


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def period_named(kind: PeriodKind, name: str) -> Period:
    """The period a name stands for: "2026-12-02", "2026-W49", "2026-12", "2026-Q4"."""
    if kind is PeriodKind.DAY:
        day = _day(name)
        return Period(day, day + timedelta(days=1))
    if kind is PeriodKind.WEEK and (found := _WEEK.fullmatch(name)):
        try:
            monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise InvalidPeriod(f"{name!r}: that ISO week does not exist") from None
        return Period(monday, monday + timedelta(days=7))
    if kind is PeriodKind.MONTH and (found := _MONTH.fullmatch(name)):
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12 or year < 1:
            raise InvalidPeriod(f"{name!r}: that month does not exist")
        return Period(_month_start(year, month), _month_start(year, month + 1))
    if kind is PeriodKind.QUARTER and (found := _QUARTER.fullmatch(name)):
        year, quarter = int(found[1]), int(found[2])
        if year < 1:
            raise InvalidPeriod(f"{name!r}: that quarter does not exist")
        first = 3 * (quarter - 1) + 1
        return Period(_month_start(year, first), _month_start(year, first + 3))
    examples = {
        PeriodKind.WEEK: "2026-W49",
        PeriodKind.MONTH: "2026-12",
        PeriodKind.QUARTER: "2026-Q4",
        PeriodKind.RANGE: "from and to",
    }
    raise InvalidPeriod(f"{name!r} is not a {kind} (e.g. {examples.get(kind, '2026-12-02')})")


def day_range(first: str, last: str) -> Period:
    """The days from `first` to `last`, both included."""
    start, end = _day(first), _day(last) + timedelta(days=1)
    if end <= start:
        raise InvalidPeriod("the range ends before it starts")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidPeriod(f"a range covers at most {MAX_RANGE_DAYS} days")
    return Period(start, end)
