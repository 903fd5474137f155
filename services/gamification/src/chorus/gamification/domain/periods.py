"""Leaderboard periods, named by the UTC calendar: ISO weeks, months, quarters.

An event counts in the periods its own time falls in, whenever it arrives.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from chorus.kit.calendar import MONTH_NAME, QUARTER_NAME, WEEK_NAME, utc_day


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    ALL_TIME = "all"


CLOSING_PERIODS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER)


def day_of(moment: datetime) -> str:
    return utc_day(moment).isoformat()


def period_of(kind: PeriodKind, moment: datetime) -> str:
    """The period's name, e.g. "2026-W48", "2026-11", "2026-Q4", "all"."""
    when = moment.astimezone(UTC)
    if kind is PeriodKind.WEEK:
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    if kind is PeriodKind.MONTH:
        return f"{when.year}-{when.month:02d}"
    if kind is PeriodKind.QUARTER:
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    return "all"


_PERIOD_NAMES = {
    PeriodKind.WEEK: WEEK_NAME,
    PeriodKind.MONTH: MONTH_NAME,
    PeriodKind.QUARTER: QUARTER_NAME,
}


def is_period(kind: PeriodKind, name: str) -> bool:
    """Is `name` a period of that kind as period_of names them ("2026-W48":
    an ISO week that exists; "2026-11"; "2026-Q4"; "all")?"""
    if kind is PeriodKind.ALL_TIME:
        return name == "all"
    found = _PERIOD_NAMES[kind].fullmatch(name)
    if found is None:
        return False
    year, number = int(found[1]), int(found[2])
    if kind is PeriodKind.WEEK:
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            return False
        return True
    return 1 <= number <= (12 if kind is PeriodKind.MONTH else 4)


def period_start(kind: PeriodKind, moment: datetime) -> datetime:
    when = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind is PeriodKind.WEEK:
        return when - timedelta(days=when.weekday())
    if kind is PeriodKind.MONTH:
        return when.replace(day=1)
    if kind is PeriodKind.QUARTER:
        return when.replace(month=(when.month - 1) // 3 * 3 + 1, day=1)
    return datetime(1970, 1, 1, tzinfo=UTC)


def previous_period(kind: PeriodKind, moment: datetime) -> tuple[str, datetime]:
    """The period before the one `moment` is in, and when that period ended."""
    ended_at = period_start(kind, moment)
    return period_of(kind, ended_at - timedelta(seconds=1)), ended_at


def week_index(week: str) -> int:
    """Consecutive ISO weeks map to consecutive integers (for streaks)."""
    year, number = week.split("-W")
    monday = datetime.fromisocalendar(int(year), int(number), 1)
    return monday.toordinal() // 7
