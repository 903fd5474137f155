"""Badges earned from an advocate's own counts. Each condition only ever
becomes true, so the set earned does not depend on the order of events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chorus.gamification.domain.periods import week_index
from chorus.gamification.domain.rules import Action, BadgeRules


@dataclass(frozen=True)
class EarnedBadge:
    badge: str
    # Empty for lifetime badges; e.g. "2026-W47" for periodic ones.
    period: str
    earned_at: datetime


SHARE_THRESHOLDS = {"first-share": 1, "shares-10": 10, "shares-50": 50, "shares-100": 100}
CLICKS_BADGE, CLICKS_THRESHOLD = "clicks-1000", 1000
CONVERSATION_BADGE = "conversation-starter"


def streak_badge(weeks: int) -> str:
    return f"streak-{weeks}w"


def top_badge(n: int, kind: str) -> str:
    """Awarded per period, e.g. top-3-week for "2026-W47"."""
    return f"top-{n}-{kind}"


def longest_streak(weeks: Iterable[str]) -> int:
    indexes = sorted({week_index(week) for week in weeks})
    best = run = 0
    previous = None
    for index in indexes:
        run = run + 1 if previous is not None and index == previous + 1 else 1
        best = max(best, run)
        previous = index
    return best


def current_streak(weeks: Iterable[str], this_week: str) -> int:
    """Weeks in a row with a share, up to this week; a streak still stands in
    a week with no share yet, and is lost once a whole week passes without one."""
    indexes = {week_index(week) for week in weeks}
    end = week_index(this_week)
    if end not in indexes:
        end -= 1
    run = 0
    while end - run in indexes:
        run += 1
    return run


def earned(counts: Mapping[str, int], streak: int, rules: BadgeRules) -> set[str]:
    """The badges an advocate's counts and longest weekly share streak earn."""
    shares = counts.get(Action.SHARE, 0)
    badges = {badge for badge, threshold in SHARE_THRESHOLDS.items() if shares >= threshold}
    if counts.get(Action.CLICK, 0) >= CLICKS_THRESHOLD:
        badges.add(CLICKS_BADGE)
    if counts.get(Action.COMMENT, 0) >= rules.conversation_comments:
        badges.add(CONVERSATION_BADGE)
    if streak >= rules.streak_weeks:
        badges.add(streak_badge(rules.streak_weeks))
    return badges
