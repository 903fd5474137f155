from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.content.domain import workflow
from chorus.content.domain.model import Item, ItemKind, State
from chorus.content.domain.workflow import Action, FourEyesViolation, InvalidTransition

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def draft(**changes: object) -> Item:
    item = Item(
        tenant="acme",
        id="i1",
        author="carol",
        kind=ItemKind.CURATED,
        title="t",
        url="https://acme.example/a",
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def test_the_happy_path() -> None:
    item = workflow.submit(draft(), NOW)
    assert item.state is State.IN_REVIEW
    item = workflow.approve(item, "alice", NOW)
    assert (item.state, item.approved_by, item.approved_at) == (State.APPROVED, "alice", NOW)
    assert workflow.effective_state(item, NOW) is State.LIVE
    item = workflow.retract(item, "outdated", NOW)
    assert (item.state, item.retraction_reason) == (State.RETRACTED, "outdated")


def test_rejection_needs_a_reason_and_goes_back_to_draft() -> None:
    in_review = workflow.submit(draft(), NOW)
    with pytest.raises(ValueError):
        workflow.reject(in_review, "  ", NOW)
    rejected = workflow.reject(in_review, "off-brand", NOW)
    assert (rejected.state, rejected.rejection_reason) == (State.REJECTED, "off-brand")
    assert workflow.revise(rejected, NOW).state is State.DRAFT
    assert workflow.submit(workflow.revise(rejected, NOW), NOW).rejection_reason == ""


def test_four_eyes() -> None:
    with pytest.raises(FourEyesViolation):
        workflow.approve(workflow.submit(draft(), NOW), "carol", NOW)


def test_live_and_expired_follow_the_clock() -> None:
    approved = draft(
        state=State.APPROVED,
        publish_at=NOW + timedelta(hours=1),
        expires_at=NOW + timedelta(days=1),
    )
    assert workflow.effective_state(approved, NOW) is State.APPROVED
    assert workflow.effective_state(approved, NOW + timedelta(hours=1)) is State.LIVE
    assert workflow.effective_state(approved, NOW + timedelta(days=1)) is State.EXPIRED


def test_expired_items_cannot_be_retracted() -> None:
    expired = draft(state=State.APPROVED, expires_at=NOW - timedelta(seconds=1))
    with pytest.raises(InvalidTransition) as caught:
        workflow.retract(expired, "late", NOW)
    assert caught.value.current is State.EXPIRED


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (State.DRAFT, Action.APPROVE),
        (State.IN_REVIEW, Action.SUBMIT),
        (State.APPROVED, Action.REJECT),
        (State.RETRACTED, Action.RETRACT),
        (State.REJECTED, Action.APPROVE),
        (State.IN_REVIEW, Action.EDIT),
    ],
)
def test_invalid_transitions_name_the_current_state(state: State, action: Action) -> None:
    item = draft(state=state)
    with pytest.raises(InvalidTransition) as caught:
        workflow.check(item, action, NOW)
    assert caught.value.current is workflow.effective_state(item, NOW)


STEPS = {
    Action.SUBMIT: lambda i: workflow.submit(i, NOW),
    Action.APPROVE: lambda i: workflow.approve(i, "alice", NOW),
    Action.REJECT: lambda i: workflow.reject(i, "no", NOW),
    Action.REVISE: lambda i: workflow.revise(i, NOW),
    Action.RETRACT: lambda i: workflow.retract(i, "old", NOW),
}
# Every edge of the documented state machine, and nothing else.
EDGES = {
    (State.DRAFT, State.IN_REVIEW),
    (State.IN_REVIEW, State.APPROVED),
    (State.IN_REVIEW, State.REJECTED),
    (State.REJECTED, State.DRAFT),
    (State.APPROVED, State.RETRACTED),
}


@given(st.lists(st.sampled_from(list(STEPS)), max_size=30))
def test_any_sequence_of_actions_only_follows_documented_edges(actions: list[Action]) -> None:
    item = draft()
    for action in actions:
        before = item.state
        try:
            item = STEPS[action](item)
        except InvalidTransition as error:
            # Refused, naming the state the caller sees (approved reads as live).
            assert error.current is workflow.effective_state(item, NOW)
            continue
        assert (before, item.state) in EDGES
    if item.state is State.APPROVED:
        assert item.approved_by != item.author
    assert item.state is not State.RETRACTED or "approve" in {a.value for a in actions}
