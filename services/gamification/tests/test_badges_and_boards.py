"""Badges, periods and leaderboards as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chorus.gamification.domain.badges import current_streak, earned, longest_streak, streak_badge
from chorus.gamification.domain.leaderboard import ranked
from chorus.gamification.domain.periods import PeriodKind, period_of, previous_period
from chorus.gamification.domain.rules import Action, BadgeRules, Multiplier, RuleHistory, RuleSet
from chorus.gamification.domain.scoring import Activity, AdvocateState

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        (0, set()),
        (1, {"first-share"}),
        (10, {"first-share", "shares-10"}),
        (100, {"first-share", "shares-10", "shares-50", "shares-100"}),
    ],
)
def test_share_thresholds(shares: int, expected: set[str]) -> None:
    assert earned({Action.SHARE: shares}, 0, BadgeRules()) == expected


def test_clicks_and_comments_badges() -> None:
    rules = BadgeRules(conversation_comments=5)
    assert earned({Action.CLICK: 999, Action.COMMENT: 4}, 0, rules) == set()
    assert earned({Action.CLICK: 1000, Action.COMMENT: 5}, 0, rules) == {
        "clicks-1000",
        "conversation-starter",
    }


def test_streaks_need_consecutive_iso_weeks_across_years() -> None:
    assert longest_streak(["2026-W51", "2026-W52", "2026-W53", "2027-W01"]) == 4
    assert longest_streak(["2026-W01", "2026-W03", "2026-W04"]) == 2
    streak = longest_streak(["2026-W01", "2026-W02", "2026-W03"])
    assert streak_badge(3) in earned({}, streak, BadgeRules(streak_weeks=3))
    assert streak_badge(3) not in earned({}, streak - 1, BadgeRules(streak_weeks=3))


def test_the_current_streak_stands_until_a_whole_week_passes_without_a_share() -> None:
    weeks = ["2026-W01", "2026-W51", "2026-W52", "2026-W53"]
    assert current_streak(weeks, "2026-W53") == 3  # shared this week
    assert current_streak(weeks, "2027-W01") == 3  # not yet this week: still standing
    assert current_streak(weeks, "2027-W02") == 0  # a whole week without a share
    assert current_streak([], "2026-W10") == 0


def test_each_badge_is_awarded_once_whatever_the_order() -> None:
    rules = RuleSet()
    shares = [
        Activity(f"s-{n}", Action.SHARE, "x", 1, "c", MONDAY + timedelta(weeks=n % 5))
        for n in range(12)
    ]
    forward, backward = AdvocateState(), AdvocateState()
    awarded_forward = [b for s in shares for b in forward.apply(s, rules).new_badges]
    awarded_backward = [b for s in reversed(shares) for b in backward.apply(s, rules).new_badges]
    assert sorted(awarded_forward) == sorted(awarded_backward)
    assert len(awarded_forward) == len(set(awarded_forward))
    assert set(awarded_forward) == {"first-share", "shares-10", "streak-4w"}


@pytest.mark.parametrize(
    ("kind", "moment", "name"),
    [
        (PeriodKind.WEEK, datetime(2026, 12, 31, tzinfo=UTC), "2026-W53"),
        (PeriodKind.WEEK, datetime(2027, 1, 4, tzinfo=UTC), "2027-W01"),
        (PeriodKind.MONTH, datetime(2026, 2, 28, 23, 59, tzinfo=UTC), "2026-02"),
        (PeriodKind.QUARTER, datetime(2026, 11, 27, tzinfo=UTC), "2026-Q4"),
        (PeriodKind.ALL_TIME, datetime(2026, 11, 27, tzinfo=UTC), "all"),
    ],
)
def test_period_names(kind: PeriodKind, moment: datetime, name: str) -> None:
    assert period_of(kind, moment) == name


def test_previous_period_and_its_end() -> None:
    assert previous_period(PeriodKind.WEEK, datetime(2026, 11, 27, tzinfo=UTC)) == (
        "2026-W47",
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    assert previous_period(PeriodKind.QUARTER, datetime(2026, 1, 5, tzinfo=UTC))[0] == "2025-Q4"


@dataclass(frozen=True)
class Row:
    advocate: str
    groups: tuple[str, ...]
    points: int

    def points_in(self, kind: PeriodKind, period: str) -> int:
        return self.points


def test_ranking_breaks_ties_by_advocate_and_filters_groups() -> None:
    rows = [
        Row("carol", ("a",), 5),
        Row("bob", ("b",), 7),
        Row("alice", ("a",), 5),
        Row("dan", (), 0),
    ]
    board = ranked(rows, PeriodKind.WEEK, "2026-W48")
    assert [(e.rank, e.advocate, e.points) for e in board] == [
        (1, "bob", 7),
        (2, "alice", 5),
        (3, "carol", 5),
    ]
    assert [e.advocate for e in ranked(rows, PeriodKind.WEEK, "2026-W48", "a")] == [
        "alice",
        "carol",
    ]


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=5), st.integers(0, 50)), unique_by=lambda t: t[0]
    )
)
def test_ranking_is_a_permutation_sorted_by_points(pairs: list[tuple[str, int]]) -> None:
    board = ranked([Row(a, (), p) for a, p in pairs], PeriodKind.ALL_TIME, "all")
    assert [e.rank for e in board] == list(range(1, len(board) + 1))
    assert [e.points for e in board] == sorted((p for _, p in pairs if p > 0), reverse=True)
    assert ranked([Row(a, (), p) for a, p in reversed(pairs)], PeriodKind.ALL_TIME, "all") == board


def test_rule_history_picks_the_version_in_force_at_the_event_time() -> None:
    v1 = RuleSet(version=1, effective_from=MONDAY, points={Action.SHARE: {"default": 20}})
    v2 = RuleSet(
        version=2, effective_from=MONDAY + timedelta(days=3), points={Action.SHARE: {"default": 30}}
    )
    history = RuleHistory([v2, v1])
    assert history.at(MONDAY - timedelta(seconds=1)).version == 0
    assert history.at(MONDAY + timedelta(days=1)).version == 1
    assert history.at(MONDAY + timedelta(days=3)).version == 2
    assert history.latest.version == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x", "factor": 2, "starts_at": MONDAY, "ends_at": MONDAY, "tags": ["a"]},
        {"name": "x", "factor": 2, "starts_at": MONDAY, "ends_at": MONDAY + timedelta(days=1)},
        {
            "name": "x",
            "factor": 0,
            "starts_at": MONDAY,
            "ends_at": MONDAY + timedelta(days=1),
            "tags": ["a"],
        },
    ],
)
def test_invalid_campaigns_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Multiplier.model_validate(bad)


def test_negative_points_and_unknown_actions_are_refused() -> None:
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"points": {"share": {"default": -1}}})
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"daily_caps": {"like": 5}})
