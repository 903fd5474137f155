"""The pure part of a report: a series that has every day (or week) of it."""

from datetime import date

from chorus.insights.app.reports import Interval, series
from chorus.insights.domain.figures import Engagement
from chorus.insights.domain.periods import Period

NOVEMBER_W45 = Period(date(2026, 11, 2), date(2026, 11, 9))


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
