"""The life of one (share, network) as a pure state machine, and how a platform's
answer moves it.

    scheduled -> queued -> posting -> posted -> deleted | delete_failed
        ^          ^          |  ^
        |          +----------+  +- posting again after reconciling found no post
        +---------------------+ deferred retry (429 until its reset, 5xx with backoff)
                              +-> failed (4xx, expired account, retries exhausted)
    intent_pending -> posted (the advocate confirmed)

Every status change goes through `require_move`: a change the table does not
allow is a bug, refused before anything is written.

`posting` is written before the request goes out: a worker that finds a record
already `posting` knows a request may have reached the platform and reconciles
(looks for the post carrying the share's tracked link) before it posts again.
That is what keeps every (share, network) posted at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    POSTING = "posting"
    POSTED = "posted"
    INTENT_PENDING = "intent_pending"
    FAILED = "failed"
    DELETED = "deleted"
    DELETE_FAILED = "delete_failed"


FINAL = frozenset({Status.POSTED, Status.FAILED, Status.DELETED, Status.DELETE_FAILED})

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.FAILED}),
    Status.QUEUED: frozenset({Status.POSTING, Status.SCHEDULED, Status.FAILED}),
    Status.POSTING: frozenset(
        {Status.POSTED, Status.QUEUED, Status.SCHEDULED, Status.FAILED, Status.POSTING}
    ),
    Status.INTENT_PENDING: frozenset({Status.POSTED, Status.FAILED}),
    Status.POSTED: frozenset({Status.DELETED, Status.DELETE_FAILED}),
    Status.FAILED: frozenset(),
    Status.DELETED: frozenset(),
    Status.DELETE_FAILED: frozenset({Status.DELETED}),
}


def can_move(current: Status, to: Status) -> bool:
    return to in ALLOWED[current]


class InvalidTransition(ValueError):
    """A status change the state machine does not allow (a bug, not bad input)."""


def require_move(current: Status, to: Status) -> None:
    if not can_move(current, to):
        raise InvalidTransition(f"a share's network cannot move from {current} to {to}")


class Outcome(StrEnum):
    POSTED = "posted"
    RATE_LIMITED = "rate_limited"  # 429: wait for the reset, then again
    RETRY = "retry"  # 5xx or the request never left: safe to send again
    UNAUTHORIZED = "unauthorized"  # 401: refresh the token, or the account expired
    REJECTED = "rejected"  # other 4xx: the platform's reason, final
    AMBIGUOUS = "ambiguous"  # sent, no answer: reconcile before anything else


@dataclass(frozen=True)
class PlatformAnswer:
    status: int | None  # None: no answer
    sent: bool  # whether the request may have reached the platform


def classify(answer: PlatformAnswer) -> Outcome:
    if answer.status is None:
        return Outcome.AMBIGUOUS if answer.sent else Outcome.RETRY
    if 200 <= answer.status < 300:
        return Outcome.POSTED
    if answer.status == 429:
        return Outcome.RATE_LIMITED
    if answer.status == 401:
        return Outcome.UNAUTHORIZED
    if answer.status >= 500:
        return Outcome.RETRY
    return Outcome.REJECTED
