"""The content workflow as a pure state machine.

    draft -> in_review -> approved -> live (from publish_at) -> expired | retracted
    in_review -> rejected (with a reason) -> draft

`live` and `expired` follow from the clock: an approved item is live once
`publish_at` has passed and expired once `expires_at` has; no scheduler has
to flip them. Four eyes: an author never approves their own item.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from chorus.content.domain.model import Item, State


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    REVISE = "revise"
    RETRACT = "retract"
    EDIT = "edit"


class InvalidTransition(Exception):
    def __init__(self, action: Action, current: State) -> None:
        super().__init__(f"cannot {action.value} an item that is {current.value}")
        self.action = action
        self.current = current


class FourEyesViolation(Exception):
    """The author tried to approve their own item."""


# Which stored states each action may start from.
_ALLOWED: dict[Action, frozenset[State]] = {
    Action.SUBMIT: frozenset({State.DRAFT}),
    Action.APPROVE: frozenset({State.IN_REVIEW}),
    Action.REJECT: frozenset({State.IN_REVIEW}),
    Action.REVISE: frozenset({State.REJECTED}),
    Action.RETRACT: frozenset({State.APPROVED}),
    Action.EDIT: frozenset({State.DRAFT, State.REJECTED}),
}


def effective_state(item: Item, now: datetime) -> State:
    """The state a reader sees: approved items turn live and expire with the clock."""
    if item.state is not State.APPROVED:
        return item.state
    if item.expires_at is not None and now >= item.expires_at:
        return State.EXPIRED
    if item.publish_at is None or now >= item.publish_at:
        return State.LIVE
    return State.APPROVED


def check(item: Item, action: Action, now: datetime) -> None:
    current = effective_state(item, now)
    if item.state not in _ALLOWED[action] or current is State.EXPIRED:
        raise InvalidTransition(action, current)


def submit(item: Item, now: datetime) -> Item:
    check(item, Action.SUBMIT, now)
    return replace(item, state=State.IN_REVIEW, rejection_reason="")


def approve(item: Item, approver: str, now: datetime) -> Item:
    check(item, Action.APPROVE, now)
    if approver == item.author:
        raise FourEyesViolation("the author of an item cannot approve it")
    return replace(item, state=State.APPROVED, approved_by=approver, approved_at=now)


def reject(item: Item, reason: str, now: datetime) -> Item:
    check(item, Action.REJECT, now)
    if not reason.strip():
        raise ValueError("a rejection needs a reason")
    return replace(item, state=State.REJECTED, rejection_reason=reason.strip())


def revise(item: Item, now: datetime) -> Item:
    check(item, Action.REVISE, now)
    return replace(item, state=State.DRAFT)


def retract(item: Item, reason: str, now: datetime) -> Item:
    check(item, Action.RETRACT, now)
    return replace(item, state=State.RETRACTED, retraction_reason=reason.strip())
