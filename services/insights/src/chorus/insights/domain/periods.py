"""Report periods on the UTC calendar: a day, an ISO week, a month, a
quarter, or a custom range of days. A period is half-open, [start, end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from chorus.kit.calendar import DAY_NAME, MONTH_NAME, QUARTER_NAME, WEEK_NAME

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
    # How it was named: a month or a quarter is answered from its rollups.
    kind: PeriodKind = PeriodKind.RANGE

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end


def _day(text: str) -> date:
    try:
        if DAY_NAME.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidPeriod(f"{text!r} is not a day (YYYY-MM-DD)")


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def period_named(kind: PeriodKind, name: str) -> Period:
    """The period a name stands for: "2026-12-02", "2026-W49", "2026-12", "2026-Q4"."""
    try:
        return _period_named(kind, name)
    except (OverflowError, ValueError) as error:
        if isinstance(error, InvalidPeriod):
            raise
        # The last period of 9999 ends after the last day Python knows.
        raise InvalidPeriod(f"{name!r} ends after 9999-12-31") from None


def _period_named(kind: PeriodKind, name: str) -> Period:
    if kind is PeriodKind.DAY:
        day = _day(name)
        return Period(day, day + timedelta(days=1), kind)
    if kind is PeriodKind.WEEK and (found := WEEK_NAME.fullmatch(name)):
        try:
            monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise InvalidPeriod(f"{name!r}: that ISO week does not exist") from None
        return Period(monday, monday + timedelta(days=7), kind)
    if kind is PeriodKind.MONTH and (found := MONTH_NAME.fullmatch(name)):
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12 or year < 1:
            raise InvalidPeriod(f"{name!r}: that month does not exist")
        return Period(_month_start(year, month), _month_start(year, month + 1), kind)
    if kind is PeriodKind.QUARTER and (found := QUARTER_NAME.fullmatch(name)):
        year, quarter = int(found[1]), int(found[2])
        if year < 1 or not 1 <= quarter <= 4:
            raise InvalidPeriod(f"{name!r}: that quarter does not exist")
        first = 3 * (quarter - 1) + 1
        return Period(_month_start(year, first), _month_start(year, first + 3), kind)
    examples = {
        PeriodKind.WEEK: "2026-W49",
        PeriodKind.MONTH: "2026-12",
        PeriodKind.QUARTER: "2026-Q4",
        PeriodKind.RANGE: "from and to",
    }
    raise InvalidPeriod(f"{name!r} is not a {kind} (e.g. {examples.get(kind, '2026-12-02')})")


def week_name(day: date) -> str:
    """The ISO week of the day, e.g. "2026-W49"."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_name(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def quarter_name(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def day_range(first: str, last: str) -> Period:
    """The days from `first` to `last`, both included."""
    start, last_day = _day(first), _day(last)
    if last_day == date.max:
        raise InvalidPeriod(f"{last!r} ends after 9999-12-31")
    end = last_day + timedelta(days=1)
    if end <= start:
        raise InvalidPeriod("the range ends before it starts")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidPeriod(f"a range covers at most {MAX_RANGE_DAYS} days")
    return Period(start, end)
