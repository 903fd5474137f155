"""The pure parts of a report: who counts as enrolled in a period, and a
series that has every day (or week) of it."""

from datetime import UTC, date, datetime

from chorus.insights.adapters.store import Member
from chorus.insights.app.reports import Interval, enrolled_during, series
from chorus.insights.domain.figures import Engagement
from chorus.insights.domain.periods import Period

NOVEMBER_W45 = Period(date(2026, 11, 2), date(2026, 11, 9))


def member(enrolled: datetime | None, left: datetime | None = None) -> Member:
    return Member("ann", left is None, (), enrolled, left)


def test_enrolled_at_some_moment_of_the_period() -> None:
    before, inside = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    after = datetime(2026, 11, 9, tzinfo=UTC)  # the first moment after the week
    assert enrolled_during(member(before), NOVEMBER_W45)
    assert enrolled_during(member(inside), NOVEMBER_W45)
    assert not enrolled_during(member(after), NOVEMBER_W45)
    assert enrolled_during(member(before, left=inside), NOVEMBER_W45)
    assert not enrolled_during(member(before, left=datetime(2026, 11, 1, tzinfo=UTC)), NOVEMBER_W45)
    assert not enrolled_during(member(None), NOVEMBER_W45)


def test_a_series_has_every_day_and_weeks_start_on_monday() -> None:
    rows = {"2026-11-03": (2, Engagement(clicks=5)), "2026-11-08": (1, Engagement(clicks=1))}
    days = series(rows, NOVEMBER_W45, Interval.DAY)
    assert [(r.key, r.shares) for r in days] == [
        ("2026-11-02", 0),
        ("2026-11-03", 2),
        ("2026-11-04", 0),
        ("2026-11-05", 0),
        ("2026-11-06", 0),
        ("2026-11-07", 0),
        ("2026-11-08", 1),
    ]
    month = Period(date(2026, 11, 1), date(2026, 12, 1))
    weeks = series(rows, month, Interval.WEEK)
    assert [r.key for r in weeks] == [
        "2026-10-26",  # 11-01 is a Sunday: its week began in October
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
        "2026-11-30",
    ]
    assert (weeks[1].shares, weeks[1].engagement.clicks) == (3, 6)
