"""The scoring state machine: totals, caps, dedupe, periods, lifecycle."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.gamification.domain.periods import PeriodKind, day_of, period_of
from chorus.gamification.domain.rules import Action, Multiplier, RuleSet
from chorus.gamification.domain.scoring import (
    DEDUPE_DAYS,
    Activity,
    AdvocateState,
    Status,
    _holds,
)

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
RULES = RuleSet(daily_caps={Action.CLICK: 20})


def activity(n: int, action: Action = Action.SHARE, *, day: int = 0, units: int = 1) -> Activity:
    return Activity(
        event_id=f"e-{n}",
        action=action,
        network="linkedin",
        units=units,
        content_id="c-1",
        occurred_at=START + timedelta(days=day, hours=n % 24),
    )


def score(events: list[Activity], rules: RuleSet = RULES) -> AdvocateState:
    state = AdvocateState()
    for event in events:
        state.apply(event, rules)
    return state


def expected_total(events: list[Activity], rules: RuleSet) -> int:
    """The rule over each distinct event, capped per action and day."""
    distinct = {event.event_id: event for event in events}.values()
    per_day: dict[tuple[str, Action], int] = defaultdict(int)
    for event in distinct:
        points = rules.points_for(
            event.action,
            event.network,
            event.units,
            event.content_id,
            event.tags,
            event.occurred_at,
        )
        per_day[(day_of(event.occurred_at), event.action)] += points
    return sum(
        min(points, rules.daily_caps.get(action, points)) for (_, action), points in per_day.items()
    )


events_strategy = st.lists(
    st.builds(
        activity,
        st.integers(0, 60),
        st.sampled_from(list(Action)),
        day=st.integers(0, DEDUPE_DAYS - 1),
        units=st.integers(1, 15),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.integers(0, 3), st.randoms(use_true_random=False))
def test_the_total_is_the_rule_over_distinct_events_in_any_order_and_duplication(
    events: list[Activity], copies: int, shuffler: random.Random
) -> None:
    # Same id, same event (the broker redelivers the very same record).
    events = list({event.event_id: event for event in events}.values())
    delivered = (
        events + [shuffler.choice(events) for _ in range(copies * len(events) // 2)]
        if events
        else []
    )
    shuffler.shuffle(delivered)
    state = score(delivered)
    assert state.lifetime == expected_total(events, RULES)
    assert state.lifetime == score(sorted(events, key=lambda e: e.occurred_at)).lifetime
    weekly = sum(v for k, v in state.periods.items() if k.startswith("week:"))
    assert weekly == state.lifetime


def test_a_redelivered_event_counts_nothing() -> None:
    state = AdvocateState()
    first = state.apply(activity(1), RULES)
    again = state.apply(activity(1), RULES)
    assert (first.status, first.points) == (Status.COUNTED, 10)
    assert (again.status, again.points) == (Status.DUPLICATE, 0)
    assert state.lifetime == 10


def test_daily_cap_grants_the_remainder_then_nothing() -> None:
    state = AdvocateState()
    outcomes = [state.apply(activity(n, Action.CLICK, units=8), RULES) for n in range(4)]
    assert [o.points for o in outcomes] == [8, 8, 4, 0]
    next_day = state.apply(activity(9, Action.CLICK, day=1, units=8), RULES)
    assert next_day.points == 8


def test_late_events_count_in_their_own_period() -> None:
    state = AdvocateState()
    state.apply(activity(1, day=10), RULES)
    state.apply(activity(2, day=0), RULES)  # arrives later, happened earlier
    early, late = START, START + timedelta(days=10)
    assert state.points_in(PeriodKind.WEEK, period_of(PeriodKind.WEEK, early)) == 10
    assert state.points_in(PeriodKind.WEEK, period_of(PeriodKind.WEEK, late)) == 10
    assert state.points_in(PeriodKind.MONTH, "2026-11") == 20


def test_events_older_than_the_dedupe_horizon_are_refused() -> None:
    state = AdvocateState()
    state.apply(activity(1, day=DEDUPE_DAYS + 5), RULES)
    outcome = state.apply(activity(2, day=0), RULES)
    assert outcome.status is Status.TOO_LATE
    assert state.lifetime == 10


def test_campaign_multiplier_applies_within_its_window_to_tagged_content_and_its_engagement() -> (
    None
):
    campaign = Multiplier(
        name="launch",
        factor=2,
        starts_at=START,
        ends_at=START + timedelta(days=7),
        tags=frozenset({"launch"}),
    )
    rules = RuleSet(multipliers=(campaign,))
    state = AdvocateState()
    tagged = Activity("s-1", Action.SHARE, "x", 1, "c-9", START + timedelta(hours=1), ("launch",))
    comment = Activity("k-1", Action.COMMENT, "x", 1, "c-9", START + timedelta(hours=2))
    after = Activity("s-2", Action.SHARE, "x", 1, "c-9", START + timedelta(days=8), ("launch",))
    assert [state.apply(a, rules).points for a in (tagged, comment, after)] == [20, 6, 10]


def test_rules_pick_network_specific_points_then_the_default() -> None:
    rules = RuleSet(points={Action.SHARE: {"default": 10, "linkedin": 15}})
    assert rules.unit_points(Action.SHARE, "linkedin") == 15
    assert rules.unit_points(Action.SHARE, "x") == 10
    assert rules.unit_points(Action.COMMENT, "x") == 0


def test_leaving_erases_everything_and_late_events_from_before_do_not_come_back() -> None:
    state = score([activity(n) for n in range(5)])
    left = AdvocateState.left(START + timedelta(days=1), state.offsets)
    assert left.lifetime == 0 and not left.active and not left.seen
    assert left.apply(activity(3), RULES).status is Status.IGNORED
    left.enrolled(["sales"])
    assert left.apply(activity(100, day=2), RULES).status is Status.COUNTED
    assert left.lifetime == 10


def test_state_round_trips_through_json_without_sharing_lists() -> None:
    state = score([activity(1), activity(2, Action.CLICK)])
    stored = state.to_json()
    copy = AdvocateState.from_json(stored)
    copy.apply(activity(3), RULES)
    assert AdvocateState.from_json(stored).lifetime == state.lifetime
    assert copy.lifetime == state.lifetime + 10


def test_version_grows_with_offsets_and_survives_leaving() -> None:
    state = AdvocateState(offsets={"share.performed": 4, "engagement.observed": 9})
    assert state.version == 15
    left = AdvocateState.left(START, state.offsets)
    left.offsets["advocate.lifecycle"] = 0
    assert left.version == 16 and state.version == 15


def test_packed_digests_match_only_on_their_own_boundaries() -> None:
    first, second = bytes(range(9)), bytes(range(9, 18))
    straddling = (first + second)[4:13]  # the end of one digest and the start of the next
    assert _holds(first + second, second) and _holds(first + second, first)
    assert not _holds(first + second, straddling)
    assert _holds(straddling + first + straddling, straddling)


def test_the_dedupe_memory_costs_nine_bytes_an_event() -> None:
    state = score([activity(n, Action.CLICK) for n in range(40)])
    assert sum(len(packed) for packed in state.seen.values()) == 40 * 9
