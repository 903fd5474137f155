"""What the dashboard's form asks the insights API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chorus.hub.web.dashboard import Asked, current


def test_a_named_period_defaults_to_the_current_one_and_ignores_days() -> None:
    asked = Asked.of_query(period="month", start="2026-01-01", end="2026-01-05")
    assert asked.params() == {"period": "month", "of": current("month")}
    assert asked.interval == "day"
    assert Asked.of_query(period="quarter", of="2026-Q3").interval == "week"


def test_a_range_defaults_to_the_last_30_days_and_long_ranges_go_by_week() -> None:
    today = datetime.now(UTC).date()
    asked = Asked.of_query(period="range", of="2026-W01")
    assert asked.params() == {
        "period": "range",
        "from": (today - timedelta(days=29)).isoformat(),
        "to": today.isoformat(),
    }
    assert asked.interval == "day"
    long = Asked.of_query(period="range", start="2026-01-01", end="2026-06-30")
    assert long.interval == "week"
    assert Asked.of_query(period="range", start="soon", end="later").interval == "day"


def test_filters_pass_through_and_the_csv_asks_the_same_question() -> None:
    asked = Asked.of_query(period="week", of="2026-W49", group=" sales ", network="x", tag="")
    assert asked.params() == {"period": "week", "of": "2026-W49", "group": "sales", "network": "x"}
    assert asked.query() == "period=week&of=2026-W49&group=sales&network=x"
    assert asked.filtered and not Asked.of_query(period="week").filtered
