"""The posting-frequency rule, in one place: content's feed shows it and
distribution enforces it.

What counts is a post: one network of a share. Distribution counts every post
that is done or on its way (queued, scheduled, posting, an intent not yet
confirmed) and never a failed one, so a burst of requests cannot slip past
the limit while they wait; the feed, which learns of posts from
`share.performed`, counts the done ones. Days are UTC days, weeks ISO weeks
(from Monday 00:00 UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PostCount:
    today: int
    this_week: int

    def would_exceed(self, adding: int, per_day: int, per_week: int) -> bool:
        """Whether `adding` more posts go beyond either limit."""
        return self.today + adding > per_day or self.this_week + adding > per_week


def count_posts(posted_at: Iterable[datetime], now: datetime) -> PostCount:
    """Posts made at `posted_at`, counted for today and this week as of `now`
    (all in the same time zone as `now`, UTC)."""
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = day_start - timedelta(days=day_start.weekday())
    moments = list(posted_at)
    return PostCount(
        today=sum(1 for at in moments if at >= day_start),
        this_week=sum(1 for at in moments if at >= week_start),
    )
