"""Incoming events, decoded and normalised for the scoring domain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind, EngagementObserved
from chorus.gamification.domain.rules import Action
from chorus.gamification.domain.scoring import Activity
from chorus.kit.envelope import Envelope, UndecodableEvent, decode, utc_moment
from chorus.kit.networks import network_name
from chorus.kit.topics import (
    ADVOCATE_LIFECYCLE,
    ENGAGEMENT_OBSERVED,
    SHARE_PERFORMED,
    advocate_key,
    by_name,
)

INPUT_TOPICS = (SHARE_PERFORMED, ENGAGEMENT_OBSERVED, ADVOCATE_LIFECYCLE)

_ACTIONS = {
    EngagementKind.ENGAGEMENT_KIND_CLICK: Action.CLICK,
    EngagementKind.ENGAGEMENT_KIND_UNIQUE_CLICK: Action.UNIQUE_CLICK,
    EngagementKind.ENGAGEMENT_KIND_REACTION: Action.REACTION,
    EngagementKind.ENGAGEMENT_KIND_COMMENT: Action.COMMENT,
    EngagementKind.ENGAGEMENT_KIND_RESHARE: Action.RESHARE,
}


@dataclass(frozen=True)
class LifecycleChange:
    change: AdvocateLifecycle.Change.ValueType
    groups: tuple[str, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class Incoming:
    envelope: Envelope
    tenant: str
    advocate: str
    # Exactly one of these; None for events that earn nothing (e.g. impressions).
    activity: Activity | None = None
    lifecycle: LifecycleChange | None = None

    @property
    def key(self) -> str:
        return advocate_key(self.tenant, self.advocate)


def _utc(stamp: Timestamp, fallback: datetime) -> datetime:
    """The stamp's instant in UTC (the event's own time), else the envelope's."""
    if not stamp.seconds:
        return fallback.astimezone(UTC)
    return utc_moment(stamp)


def incoming(
    topic: str, key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> Incoming:
    """Decode one record, or raise UndecodableEvent saying why it is poison."""
    envelope = decode(by_name(topic), key, value, headers)
    message = envelope.message
    tenant, advocate = getattr(message, "tenant", ""), getattr(message, "advocate", "")
    if not tenant or not advocate:
        raise UndecodableEvent("the event names no tenant or advocate")
    if envelope.key != advocate_key(tenant, advocate):
        raise UndecodableEvent(f"key {envelope.key!r} is not {tenant}:{advocate}")
    if isinstance(message, SharePerformed):
        activity = Activity(
            event_id=envelope.id,
            action=Action.SHARE,
            network=network_name(message.network),
            units=1,
            content_id=message.content_id,
            occurred_at=_utc(message.performed_at, envelope.time),
            tags=tuple(message.tags),
        )
        return Incoming(envelope, tenant, advocate, activity=activity)
    if isinstance(message, EngagementObserved):
        action = _ACTIONS.get(message.kind)
        if action is None:
            return Incoming(envelope, tenant, advocate)
        activity = Activity(
            event_id=envelope.id,
            action=action,
            network=network_name(message.network),
            units=message.delta,
            content_id=message.content_id,
            occurred_at=_utc(message.observed_at, envelope.time),
        )
        return Incoming(envelope, tenant, advocate, activity=activity)
    if not isinstance(message, AdvocateLifecycle):
        raise UndecodableEvent(f"{type(message).__name__} is not scored")
    change = LifecycleChange(
        message.change, tuple(message.groups), _utc(message.occurred_at, envelope.time)
    )
    return Incoming(envelope, tenant, advocate, lifecycle=change)
