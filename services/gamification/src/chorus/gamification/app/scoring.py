"""Scoring a batch of events: the engine's use case, free of Kafka.

Per batch: load the states it touches (one query) → score on them, skipping
events at or below a state's stored offset (already in) and ids already
counted (duplicates) → publish points.awarded / badge.earned (ids derived
from the cause, so a replay republishes the same ids) → store the states, the
read model with them (one bulk write). A crash before the states are stored
replays the batch to the same result; after, it finds them applied.

Each announcement carries its cause's trace context, so a share's trace goes
on into whoever consumes its points.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned, PointsAwarded
from chorus.gamification.adapters.engine_states import EngineStates
from chorus.gamification.adapters.events import Incoming
from chorus.gamification.adapters.rules_store import RulesCache
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.rules import RuleHistory
from chorus.gamification.domain.scoring import AdvocateState, Outcome
from chorus.gamification.domain.scoring import Status as Scored
from chorus.kit.envelope import Encoder, OutgoingRecord, timestamp
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import BADGE_EARNED, POINTS_AWARDED

log = logging.getLogger(__name__)

# Events scored between two checkpoints (the caller's chance to yield).
CHECKPOINT_EVERY = 200
TRACE_HEADERS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class Position:
    """Where an event was read: its topic (as read, namespace included: the
    states store offsets under it), the partition its announcements go to
    (co-partitioned: the same key lands on the same partition), its offset."""

    topic: str
    partition: int
    offset: int


class ScoringMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.points = Counter(
            "chorus_points_awarded_total",
            "Points awarded, by action and network.",
            ["action", "network"],
            registry=metrics.registry,
        )
        self.badges = Counter(
            "chorus_badges_awarded_total",
            "Badges awarded, by badge.",
            ["badge"],
            registry=metrics.registry,
        )


@dataclass
class Tally:
    """A batch's figures, counted as plain dicts and added to Prometheus once."""

    outcomes: collections.Counter[tuple[str, Scored]] = field(default_factory=collections.Counter)
    points: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    badges: collections.Counter[str] = field(default_factory=collections.Counter)

    def publish(self, metrics: ScoringMetrics) -> None:
        for (action, network), points in self.points.items():
            metrics.points.labels(action, network).inc(points)
        for badge, count in self.badges.items():
            metrics.badges.labels(badge).inc(count)


class _WorkingSet:
    """One batch's states as loaded (`changed` are those to store, `left` the
    advocates who left), the rules in force, and what it has to announce."""

    def __init__(
        self, states: dict[str, AdvocateState], rules: dict[str, RuleHistory], source: str
    ) -> None:
        self.states = states
        self.rules = rules
        self.changed: set[tuple[str, str]] = set()
        self.left: set[tuple[str, str]] = set()
        self.encoder = Encoder(source)
        self.outgoing: list[OutgoingRecord] = []
        self.tally = Tally()

    def already_applied(self, item: Incoming, at: Position) -> bool:
        return at.offset <= self.states[item.key].offsets.get(at.topic, -1)

    def replace(self, item: Incoming, state: AdvocateState, at: Position) -> None:
        state.offsets[at.topic] = at.offset
        self.states[item.key] = state
        self.changed.add((item.tenant, item.advocate))

    def finished(self) -> dict[tuple[str, str], AdvocateState]:
        return {(t, a): self.states[f"{t}:{a}"] for t, a in self.changed}


class Scoring:
    def __init__(
        self,
        *,
        rules: RulesCache,
        states: EngineStates,
        standings: Standings,
        producer: EventProducer,
        metrics: Metrics,
    ) -> None:
        self._rules = rules
        self._states = states
        self._standings = standings
        self._producer = producer
        self._metrics = ScoringMetrics(metrics)

    async def score(
        self,
        events: Sequence[tuple[Position, Incoming]],
        *,
        extra: Sequence[OutgoingRecord] = (),
        checkpoint: Callable[[], Awaitable[None]],
    ) -> Tally:
        """Score `events` in order, publish their announcements with `extra`
        (the caller's dead letters), store the states. All or nothing: a
        failure leaves nothing stored, and the caller retries the batch.
        `checkpoint` is awaited every CHECKPOINT_EVERY events (scoring is CPU
        only; the caller lets its heartbeat run, or gives the batch up)."""
        items = [item for _, item in events]
        work = _WorkingSet(
            await self._states.load(item.key for item in items),
            await self._histories(items),
            self._producer.source,
        )
        work.outgoing.extend(extra)
        for n, (at, item) in enumerate(events):
            if n % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                await checkpoint()
            work.tally.outcomes[(at.topic, self._score(work, item, at))] += 1
        await self._producer.send_all(work.outgoing)
        await self._states.save(work.finished())
        for tenant, advocate in work.left:
            await self._standings.forget(tenant, advocate)
        work.tally.publish(self._metrics)
        return work.tally

    async def _histories(self, items: Sequence[Incoming]) -> dict[str, RuleHistory]:
        """Each tenant's rule history, fresh enough for its newest event here."""
        newest: dict[str, datetime] = {}
        for item in items:
            if item.activity is not None:
                at = item.activity.occurred_at
                if item.tenant not in newest or at > newest[item.tenant]:
                    newest[item.tenant] = at
        return {tenant: await self._rules.history(tenant, at) for tenant, at in newest.items()}

    def _score(self, work: _WorkingSet, item: Incoming, at: Position) -> Scored:
        if work.already_applied(item, at):
            return Scored.DUPLICATE
        state = work.states[item.key]
        if item.lifecycle is not None:
            change = item.lifecycle
            if change.change == AdvocateLifecycle.CHANGE_ENROLLED:
                state.enrolled(change.groups)
                work.replace(item, state, at)
            elif change.change in (
                AdvocateLifecycle.CHANGE_OPTED_OUT,
                AdvocateLifecycle.CHANGE_ERASED,
            ):
                work.replace(item, AdvocateState.left(change.occurred_at, state.offsets), at)
                work.left.add((item.tenant, item.advocate))
            return Scored.COUNTED
        activity = item.activity
        if activity is None:
            return Scored.IGNORED
        outcome = state.apply(activity, work.rules[item.tenant].at(activity.occurred_at))
        if outcome.status is Scored.COUNTED:
            work.replace(item, state, at)
            work.tally.points[(activity.action, activity.network)] += outcome.points
            work.tally.badges.update(outcome.new_badges)
            work.outgoing.extend(_announcements(item, at, outcome, state, work.encoder))
        elif outcome.status is Scored.TOO_LATE:
            log.warning(
                "event too late to tell from a duplicate",
                extra={"topic": at.topic, "offset": at.offset, "event": item.envelope.id},
            )
        return outcome.status


def _announcements(
    item: Incoming,
    at: Position,
    outcome: Outcome,
    state: AdvocateState,
    encoder: Encoder,
) -> list[OutgoingRecord]:
    activity = item.activity
    assert activity is not None
    headers = item.envelope.headers
    trace = [(name, headers[name].encode()) for name in TRACE_HEADERS if name in headers]
    cause, occurred_at = item.envelope.id, timestamp(activity.occurred_at)
    records = []
    if outcome.points:
        award = PointsAwarded(
            tenant=item.tenant,
            advocate=item.advocate,
            cause_event_id=cause,
            action=activity.action.value,
            points=outcome.points,
            lifetime_total=state.lifetime,
            rules_version=outcome.rules_version,
            occurred_at=occurred_at,
        )
        records.append(
            encoder.encode(
                POINTS_AWARDED,
                item.key,
                award,
                event_id=f"points:{cause}",
                extra=trace,
                partition=at.partition,
            )
        )
    for badge in outcome.new_badges:
        earned = BadgeEarned(
            tenant=item.tenant, advocate=item.advocate, badge=badge, earned_at=occurred_at
        )
        records.append(
            encoder.encode(
                BADGE_EARNED,
                item.key,
                earned,
                event_id=f"badge:{item.key}:{badge}",
                extra=trace,
                partition=at.partition,
            )
        )
    return records
