"""The points engine: scores shares and engagement into points and badges.

One consumer group reads share.performed, engagement.observed and
advocate.lifecycle, co-partitioned by "<tenant>:<advocate>", so each
advocate's events reach one worker, in partition order. Workers keep no state
between batches: each advocate's AdvocateState is a MongoDB document holding
the ids of the events it counted and the offset of the last one per topic
(adapters/engine_states.py), so any worker can take any partition at any time.

Per batch: load the states it touches (one query) → score on them, skipping
records at or below a state's stored offset (already in) and ids already
counted (duplicates) → write the read model → publish points.awarded /
badge.earned (ids derived from the cause, so a replay republishes the same
ids) → store the states → commit. A crash anywhere before the states are
stored replays the batch to the same result; after, it finds them applied.

Plain aiokafka, through the kit's GroupMember (rebalances, commits, lag):
faust-streaming's consumer committed past records it never delivered after a
restart or rebalance, and working around it needed its private internals.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned, PointsAwarded
from chorus.gamification.adapters.engine_states import EngineStates
from chorus.gamification.adapters.events import INPUT_TOPICS, Incoming, incoming
from chorus.gamification.adapters.rules_store import RulesCache
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.scoring import AdvocateState, Outcome
from chorus.gamification.domain.scoring import Status as Scored
from chorus.kit.consumer import dead_letter_headers
from chorus.kit.envelope import OutgoingRecord, UndecodableEvent, encode, timestamp
from chorus.kit.group import Batch, BatchProgress, GroupMember, Interrupted, Record
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import BADGE_EARNED, POINTS_AWARDED, dead_letter_topic
from chorus.kit.tracing import extract_context, inject_headers, tracer

log = logging.getLogger(__name__)

GROUP = "gamification"
# Records scored between two yields to the event loop.
YIELD_EVERY = 200


@dataclass(frozen=True)
class EngineConfig:
    bootstrap: str
    # The consumer group of the workers.
    app_id: str
    batch_size: int = 10_000
    # Where a new consumer group starts: "earliest" scores the retained history.
    offset_reset: str = "earliest"


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


class _Batch:
    """The states a batch touches, as loaded; `changed` are those to store."""

    def __init__(self, states: dict[str, AdvocateState]) -> None:
        self.states = states
        self.changed: set[tuple[str, str]] = set()

    def state(self, item: Incoming) -> AdvocateState:
        return self.states[item.key]

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
            group=config.app_id,
            topics=[topic.name for topic in INPUT_TOPICS],
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
        records = [record for records in batch.values() for record in records]
        decoded = [(record, _decode(record)) for record in records]
        keys = [item.key for _, item in decoded if isinstance(item, Incoming)]
        work = _Batch(await self._states.load(keys))
        outgoing: list[OutgoingRecord] = []
        for n, (record, item) in enumerate(decoded):
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                # Scoring is CPU only: let the heartbeat run (a loop held for the
                # session timeout gets the worker thrown out of its group), and
                # give a revoked batch up while nothing of it is written yet.
                await asyncio.sleep(0)
                if self._member.interrupted.is_set():
                    raise Interrupted()
            if isinstance(item, Incoming):
                outgoing.extend(await self._score(work, item, record))
            else:
                outgoing.append(self._dead_letter(record, item))
        states = work.finished()
        await self._standings.write(states)
        await self._producer.send_all(outgoing)
        await self._states.save(states)
        progress.all_done(batch)

    async def _score(self, batch: _Batch, item: Incoming, record: Record) -> list[OutgoingRecord]:
        if batch.already_applied(item, record):
            self._metrics.consumed.labels(record.topic, GROUP, "duplicate").inc()
            return []
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": GROUP,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.message.id": item.envelope.id,
        }
        with tracer().start_as_current_span(
            f"process {record.topic}",
            context=extract_context(item.envelope.headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            outcome = await self._apply(batch, item, record)
            span.set_attribute("chorus.outcome", outcome.status.value)
            if outcome.status is Scored.TOO_LATE:
                span.set_status(Status(StatusCode.ERROR, "too late to tell from a duplicate"))
            self._metrics.consumed.labels(record.topic, GROUP, outcome.status.value).inc()
            return self._announcements(item, outcome, batch.state(item))

    async def _apply(self, batch: _Batch, item: Incoming, record: Record) -> Outcome:
        state = batch.state(item)
        if item.lifecycle is not None:
            change = item.lifecycle
            if change.change == AdvocateLifecycle.CHANGE_ENROLLED:
                state.enrolled(change.groups)
                batch.replace(item, state, record)
            elif change.change in (
                AdvocateLifecycle.CHANGE_OPTED_OUT,
                AdvocateLifecycle.CHANGE_ERASED,
            ):
                left = AdvocateState.left(change.occurred_at, state.offsets)
                batch.replace(item, left, record)
            return Outcome(Scored.COUNTED)
        activity = item.activity
        if activity is None:
            return Outcome(Scored.IGNORED)
        history = await self._rules.history(item.tenant, activity.occurred_at)
        outcome = state.apply(activity, history.at(activity.occurred_at))
        if outcome.status is Scored.COUNTED:
            batch.replace(item, state, record)
            self._metrics.points.labels(activity.action.value, activity.network).inc(outcome.points)
            for badge in outcome.new_badges:
                self._metrics.badges.labels(badge).inc()
        return outcome

    def _announcements(
        self, item: Incoming, outcome: Outcome, state: AdvocateState
    ) -> list[OutgoingRecord]:
        activity = item.activity
        if activity is None or outcome.status is not Scored.COUNTED:
            return []
        trace = inject_headers()
        cause = item.envelope.id
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
                occurred_at=timestamp(activity.occurred_at),
            )
            records.append(self._record(POINTS_AWARDED, item, award, f"points:{cause}", trace))
        for badge in outcome.new_badges:
            earned = BadgeEarned(
                tenant=item.tenant,
                advocate=item.advocate,
                badge=badge,
                earned_at=timestamp(activity.occurred_at),
            )
            event_id = f"badge:{item.key}:{badge}"
            records.append(self._record(BADGE_EARNED, item, earned, event_id, trace))
        return records

    def _record(
        self, topic: Any, item: Incoming, message: Any, event_id: str, trace: dict[str, str]
    ) -> OutgoingRecord:
        return encode(
            topic,
            item.key,
            message,
            source=self._producer.source,
            event_id=event_id,
            extra_headers=trace,
        )

    def _dead_letter(self, record: Record, reason: str) -> OutgoingRecord:
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason},
        )
        self._metrics.consumed.labels(record.topic, GROUP, "dead_lettered").inc()
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


def _decode(record: Record) -> Incoming | str:
    """The record for scoring, or why it is poison."""
    try:
        return incoming(record.topic, record.key, record.value, list(record.headers or ()))
    except UndecodableEvent as exc:
        return f"undecodable: {exc}"
