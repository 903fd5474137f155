"""The points engine: scores shares and engagement into points and badges.

One consumer group reads share.performed, engagement.observed and
advocate.lifecycle, co-partitioned by "<tenant>:<advocate>", so each
advocate's events reach one worker, in partition order. Workers keep no state
between batches: each advocate's AdvocateState is a MongoDB document holding
the ids of the events it counted and the offset of the last one per topic
(adapters/engine_states.py), so any worker can take any partition at any time.

Per batch: load the states it touches (one query) → score on them, skipping
records at or below a state's stored offset (already in) and ids already
counted (duplicates) → publish points.awarded / badge.earned (ids derived
from the cause, so a replay republishes the same ids) → store the states, the
read model with them (one bulk write) → commit. A crash before the states are
stored replays the batch to the same result; after, it finds them applied.

Per record the engine does only what the record needs (decode, score,
announce): metrics are counted per batch, and tracing follows OpenTelemetry's
convention for batch consumers — a span per topic and chunk of the batch,
linked to each record's trace — while each announcement carries its cause's
trace context, so a share's trace goes on into whoever consumes its points.
A span per record cost more than all the rest of a record's scoring.

Plain aiokafka, through the kit's GroupMember (rebalances, commits, lag):
faust-streaming's consumer committed past records it never delivered after a
restart or rebalance, and working around it needed its private internals.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry.trace import Link, SpanKind
from prometheus_client import Counter

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned, PointsAwarded
from chorus.gamification.adapters.engine_states import EngineStates
from chorus.gamification.adapters.events import INPUT_TOPICS, Incoming, incoming
from chorus.gamification.adapters.rules_store import RulesCache
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.rules import RuleHistory
from chorus.gamification.domain.scoring import AdvocateState, Outcome
from chorus.gamification.domain.scoring import Status as Scored
from chorus.kit.consumer import dead_letter_headers
from chorus.kit.envelope import Encoder, OutgoingRecord, UndecodableEvent, timestamp
from chorus.kit.group import Batch, BatchProgress, GroupMember, Interrupted, Record
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import BADGE_EARNED, POINTS_AWARDED, dead_letter_topic
from chorus.kit.tracing import linked_context, tracer

log = logging.getLogger(__name__)

GROUP = "gamification"
# Records scored between two yields to the event loop.
YIELD_EVERY = 200
# Records per processing span (OpenTelemetry keeps at most 128 links a span).
SPAN_RECORDS = 128
TRACE_HEADERS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class EngineConfig:
    bootstrap: str
    # The consumer group of the workers.
    app_id: str
    batch_size: int = 10_000
    # Where a new consumer group starts: "earliest" scores the retained history.
    offset_reset: str = "earliest"
    # The namespace of the topics and the group (ServiceSettings.topic_prefix).
    topic_prefix: str = ""


class EngineMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.consumed = metrics.events_consumed
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
class _Tally:
    """A batch's metrics, counted as plain dicts and added to Prometheus once."""

    outcomes: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    points: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    badges: collections.Counter[str] = field(default_factory=collections.Counter)

    def publish(self, metrics: EngineMetrics) -> None:
        for (topic, outcome), count in self.outcomes.items():
            metrics.consumed.labels(topic, GROUP, outcome).inc(count)
        for (action, network), points in self.points.items():
            metrics.points.labels(action, network).inc(points)
        for badge, count in self.badges.items():
            metrics.badges.labels(badge).inc(count)


class _Batch:
    """One batch's working set: the states it touches, as loaded (`changed`
    are those to store, `left` the advocates who left), the rules in force,
    and what it has to announce and count."""

    def __init__(
        self, states: dict[str, AdvocateState], rules: dict[str, RuleHistory], source: str
    ) -> None:
        self.states = states
        self.rules = rules
        self.changed: set[tuple[str, str]] = set()
        self.left: set[tuple[str, str]] = set()
        self.encoder = Encoder(source)
        self.outgoing: list[OutgoingRecord] = []
        self.tally = _Tally()

    def already_applied(self, item: Incoming, record: Record) -> bool:
        offset: int = record.offset
        return offset <= self.states[item.key].offsets.get(record.topic, -1)

    def replace(self, item: Incoming, state: AdvocateState, record: Record) -> None:
        state.offsets[record.topic] = record.offset
        self.states[item.key] = state
        self.changed.add((item.tenant, item.advocate))

    def finished(self) -> dict[tuple[str, str], AdvocateState]:
        return {(t, a): self.states[f"{t}:{a}"] for t, a in self.changed}


class ScoringEngine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        rules: RulesCache,
        states: EngineStates,
        standings: Standings,
        producer: EventProducer,
        metrics: Metrics,
    ) -> None:
        self._config = config
        self._rules = rules
        self._states = states
        self._standings = standings
        self._producer = producer
        self._metrics = EngineMetrics(metrics)
        self._member = GroupMember(
            bootstrap=config.bootstrap,
            group=config.topic_prefix + config.app_id,
            topics=[config.topic_prefix + topic.name for topic in INPUT_TOPICS],
            handle=self._process,
            metrics=metrics,
            max_batch=config.batch_size,
            offset_reset=config.offset_reset,
            failure_pause_seconds=0.2,
        )

    async def start(self) -> None:
        await self._member.start()

    async def stop(self) -> None:
        await self._member.stop()

    async def wait(self) -> None:
        await self._member.wait()

    async def _process(self, batch: Batch, progress: BatchProgress) -> None:
        """All or nothing: a failure (MongoDB, Kafka) retries the whole batch."""
        started = time.time_ns()
        records = [record for records in batch.values() for record in records]
        prefix = len(self._config.topic_prefix)
        decoded = [(record, _decode(record, record.topic[prefix:])) for record in records]
        items = [item for _, item in decoded if isinstance(item, Incoming)]
        work = _Batch(
            await self._states.load(item.key for item in items),
            await self._histories(items),
            self._producer.source,
        )
        for n, (record, item) in enumerate(decoded):
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                # Scoring is CPU only: let the heartbeat run (a loop held for the
                # session timeout gets the worker thrown out of its group), and
                # give a revoked batch up while nothing of it is written yet.
                await asyncio.sleep(0)
                if self._member.interrupted.is_set():
                    raise Interrupted()
            if isinstance(item, str):
                work.outgoing.append(self._dead_letter(record, item))
                work.tally.outcomes[(record.topic, "dead_lettered")] += 1
            else:
                status = self._score(work, item, record)
                work.tally.outcomes[(record.topic, status)] += 1
        await self._producer.send_all(work.outgoing)
        await self._states.save(work.finished())
        for tenant, advocate in work.left:
            await self._standings.forget(tenant, advocate)
        _trace(decoded, started)
        work.tally.publish(self._metrics)
        progress.all_done(batch)

    async def _histories(self, items: Sequence[Incoming]) -> dict[str, RuleHistory]:
        """Each tenant's rule history, fresh enough for its newest event here."""
        newest: dict[str, datetime] = {}
        for item in items:
            if item.activity is not None:
                at = item.activity.occurred_at
                if item.tenant not in newest or at > newest[item.tenant]:
                    newest[item.tenant] = at
        return {tenant: await self._rules.history(tenant, at) for tenant, at in newest.items()}

    def _score(self, work: _Batch, item: Incoming, record: Record) -> Scored:
        if work.already_applied(item, record):
            return Scored.DUPLICATE
        state = work.states[item.key]
        if item.lifecycle is not None:
            change = item.lifecycle
            if change.change == AdvocateLifecycle.CHANGE_ENROLLED:
                state.enrolled(change.groups)
                work.replace(item, state, record)
            elif change.change in (
                AdvocateLifecycle.CHANGE_OPTED_OUT,
                AdvocateLifecycle.CHANGE_ERASED,
            ):
                work.replace(item, AdvocateState.left(change.occurred_at, state.offsets), record)
                work.left.add((item.tenant, item.advocate))
            return Scored.COUNTED
        activity = item.activity
        if activity is None:
            return Scored.IGNORED
        outcome = state.apply(activity, work.rules[item.tenant].at(activity.occurred_at))
        if outcome.status is Scored.COUNTED:
            work.replace(item, state, record)
            work.tally.points[(activity.action, activity.network)] += outcome.points
            work.tally.badges.update(outcome.new_badges)
            work.outgoing.extend(_announcements(item, record, outcome, state, work.encoder))
        elif outcome.status is Scored.TOO_LATE:
            log.warning(
                "event too late to tell from a duplicate",
                extra={"topic": record.topic, "offset": record.offset, "event": item.envelope.id},
            )
        return outcome.status

    def _dead_letter(self, record: Record, reason: str) -> OutgoingRecord:
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason},
        )
        return OutgoingRecord(
            topic=dead_letter_topic(GROUP),
            key=record.key or b"",
            value=record.value or b"",
            headers=dead_letter_headers(
                list(record.headers or ()),
                reason=reason,
                group=GROUP,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            ),
        )


def _announcements(
    item: Incoming,
    record: Record,
    outcome: Outcome,
    state: AdvocateState,
    encoder: Encoder,
) -> list[OutgoingRecord]:
    activity = item.activity
    assert activity is not None
    headers = item.envelope.headers
    trace = [(name, headers[name].encode()) for name in TRACE_HEADERS if name in headers]
    cause, occurred_at = item.envelope.id, timestamp(activity.occurred_at)
    # Co-partitioned with the input: the same key lands on the same partition.
    partition: int = record.partition
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
                partition=partition,
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
                partition=partition,
            )
        )
    return records


def _trace(decoded: Sequence[tuple[Record, Incoming | str]], started: int) -> None:
    """One CONSUMER span per topic and chunk of SPAN_RECORDS records of the
    batch, linked to the trace of each record in it."""
    by_topic: dict[str, list[Incoming | str]] = collections.defaultdict(list)
    for record, item in decoded:
        by_topic[record.topic].append(item)
    for topic, items in by_topic.items():
        for first in range(0, len(items), SPAN_RECORDS):
            chunk = items[first : first + SPAN_RECORDS]
            links = [
                Link(context)
                for item in chunk
                if isinstance(item, Incoming) and (context := linked_context(item.envelope.headers))
            ]
            span = tracer().start_span(
                f"process {topic}",
                kind=SpanKind.CONSUMER,
                links=links,
                start_time=started,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": topic,
                    "messaging.consumer.group.name": GROUP,
                    "messaging.batch.message_count": len(chunk),
                },
            )
            span.end()


def _decode(record: Record, topic: str) -> Incoming | str:
    """The record (from the registry's `topic`) for scoring, or why it is poison."""
    try:
        return incoming(topic, record.key, record.value, list(record.headers or ()))
    except UndecodableEvent as exc:
        return f"undecodable: {exc}"
