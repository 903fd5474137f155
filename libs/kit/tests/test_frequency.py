"""The posting-frequency rule both content and distribution apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chorus.kit.frequency import count_posts

# A Wednesday afternoon.
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_posts_count_by_utc_day_and_iso_week() -> None:
    posted = [
        NOW - timedelta(minutes=5),
        NOW.replace(hour=0),  # midnight today: today
        NOW.replace(hour=0) - timedelta(seconds=1),  # yesterday, this week
        datetime(2026, 11, 30, tzinfo=UTC),  # Monday 00:00: this week
        datetime(2026, 11, 29, 23, 59, tzinfo=UTC),  # Sunday: last week
    ]
    count = count_posts(posted, NOW)
    assert (count.today, count.this_week) == (2, 4)


def test_a_request_is_refused_when_its_posts_would_go_beyond_a_limit() -> None:
    count = count_posts([NOW, NOW], NOW)
    assert not count.would_exceed(1, per_day=3, per_week=10)
    assert count.would_exceed(2, per_day=3, per_week=10)  # three networks at once
    assert count.would_exceed(1, per_day=10, per_week=2)
