"""The points engine: a faust-streaming app scoring shares and engagement.

One agent reads share.performed, engagement.observed and advocate.lifecycle,
which are co-partitioned by "<tenant>:<advocate>", so each advocate's events
reach one worker, in partition order. Each advocate's AdvocateState lives in
the changelog-backed table `advocates`; the ids of counted events are part of
that state, so points and dedupe commit together in one table update.

Per batch: complete it from the broker where faust skipped offsets (see
positions.py) → score on copies of the states → write the read model →
publish points.awarded / badge.earned (ids derived from the cause, so a
replay republishes the same ids) → set the table → advance the engine's own
positions. Commits carry those positions, taken before faust flushes the
changelog, so after a crash the table is never behind the offsets: a
redelivered event finds its id in the state and counts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge
from pymongo.errors import PyMongoError

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned, PointsAwarded
from chorus.gamification.adapters.events import INPUT_TOPICS, Incoming, incoming
from chorus.gamification.adapters.rules_store import RulesCache
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.app.positions import SourcePositions, SourceRecord
from chorus.gamification.domain.scoring import AdvocateState, Outcome
from chorus.gamification.domain.scoring import Status as Scored
from chorus.kit.consumer import dead_letter_headers
from chorus.kit.envelope import OutgoingRecord, UndecodableEvent, encode, timestamp
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import ADVOCATE_PARTITIONS, BADGE_EARNED, POINTS_AWARDED, dead_letter_topic
from chorus.kit.tracing import extract_context, inject_headers, tracer

log = logging.getLogger(__name__)

GROUP = "gamification"
TABLE = "advocates"


@dataclass(frozen=True)
class EngineConfig:
    bootstrap: str
    app_id: str
    state_dir: str
    replication_factor: int = 1
    batch_size: int = 10_000
    linger_seconds: float = 0.25
    # Where a new consumer group starts: "earliest" scores the retained history.
    offset_reset: str = "earliest"


class EngineMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.consumed = metrics.events_consumed
        self.lag = metrics.consumer_lag
        self.assigned = Gauge(
            "chorus_engine_assigned_partitions",
            "Source and changelog partitions this worker owns.",
            registry=metrics.registry,
        )
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
        self.recovered = Counter(
            "chorus_engine_recovered_records_total",
            "Records faust's consumer skipped that the engine read back from the broker.",
            ["topic"],
            registry=metrics.registry,
        )


class _Batch:
    """Working copies of the states a batch touches; the table is only set
    once the batch's effects are out, so a retried batch starts clean."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.states: dict[tuple[str, str], AdvocateState] = {}
        self.changed: set[tuple[str, str]] = set()

    def state(self, item: Incoming) -> AdvocateState:
        key = (item.tenant, item.advocate)
        if key not in self.states:
            self.states[key] = AdvocateState.from_json(self._table.get(item.key))
        return self.states[key]

    def replace(self, item: Incoming, state: AdvocateState, record: SourceRecord) -> None:
        state.offsets[record.topic] = record.offset
        self.states[(item.tenant, item.advocate)] = state
        self.changed.add((item.tenant, item.advocate))

    def finished(self) -> dict[tuple[str, str], AdvocateState]:
        return {key: self.states[key] for key in self.changed}


class ScoringEngine:
    def __init__(
        self,
        config: EngineConfig,
        *,
        rules: RulesCache,
        standings: Standings,
        producer: EventProducer,
        metrics: Metrics,
    ) -> None:
        self._config = config
        self._rules = rules
        self._standings = standings
        self._producer = producer
        self._metrics = EngineMetrics(metrics)
        self._positions = self._new_positions()
        self._app: faust.App | None = None
        self._table: Any = None
        # One batch at a time: the agent's and the stall sweep's.
        self._scoring = asyncio.Lock()

    async def check(self) -> None:
        """Readiness: the faust app is up. A rebalance or a table recovery is
        routine and does not count: the API reads the read model, not the table."""
        app = self._app
        if app is None or not app.started or app.crashed:
            raise RuntimeError("the scoring engine is not running")

    async def report_lag(self) -> None:
        """Records behind the end of each assigned partition, as a gauge."""
        app = self._app
        if app is None or not app.started:
            return
        assigned = app.consumer.assignment()
        self._metrics.assigned.set(len(assigned))
        scored = self._positions.committable(assigned)
        committed = app.monitor.tp_committed_offsets
        for tp, end in _source_ends(app).items():
            lag = max(0, end - scored.get(tp, committed.get(tp) or 0))
            self._metrics.lag.labels(tp.topic, self._config.app_id, str(tp.partition)).set(lag)

    async def sweep(self) -> None:
        """Scores records faust's consumer fetched but never handed to the agent
        (see SourcePositions.stalled); runs every few seconds."""
        app = self._app
        if app is None or not app.started or app.rebalancing or app.in_recovery:
            return
        async with self._scoring:
            records = await self._positions.stalled(_source_ends(app))
            assigned = app.consumer.assignment()
            records = [record for record in records if record.tp in assigned]
            if records:
                log.info("scoring records faust did not deliver", extra={"count": len(records)})
                await self._process(records)

    async def wait(self) -> None:
        """Returns when the faust app stopped, raises when it crashed: the
        supervisor then restarts the engine with a fresh app."""
        assert self._app is not None
        await self._app.wait_until_stopped()
        if self._app.crashed:
            raise RuntimeError(f"the faust app crashed: {self._app.crash_reason!r}")

    def _new_positions(self) -> SourcePositions:
        config = self._config
        return SourcePositions(
            config.bootstrap, config.app_id, config.offset_reset, self._metrics.recovered
        )

    async def start(self) -> None:
        """Also a restart after a crash: positions start afresh from the broker."""
        self._positions = self._new_positions()
        await self._positions.start()
        self._app = self._build()
        self._commit_own_positions(self._app)
        await self._app.start()

    async def stop(self) -> None:
        if self._app is not None:
            await self._app.stop()
        await self._positions.stop()

    def _commit_own_positions(self, app: faust.App) -> None:
        """faust's commit computes offsets from its acks and "gaps" (see positions.py);
        replace that one step so every commit carries the engine's positions. faust
        then flushes the producer (the changelog) and commits them as usual."""
        consumer: Any = app.consumer
        if not hasattr(consumer, "_filter_committable_offsets"):
            raise RuntimeError("this faust version has no _filter_committable_offsets to replace")

        def committable(_tps: Any) -> dict[Any, int]:
            # faust's own bookkeeping is unused; clear it so it cannot grow.
            consumer._acked.clear()
            consumer._acked_index.clear()
            consumer._gap.clear()
            assigned = consumer.assignment()
            return {
                tp: offset
                for tp, offset in self._positions.committable(assigned).items()
                if offset > (consumer._committed_offset.get(tp) or -1)
            }

        consumer._filter_committable_offsets = committable
        app.on_partitions_revoked.connect(self._on_revoked)

    def _on_revoked(self, _app: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        (revoked,) = args
        self._positions.forget(revoked)

    def _build(self) -> faust.App:
        config = self._config
        app = faust.App(
            config.app_id,
            broker=f"kafka://{config.bootstrap}",
            store="memory://",
            datadir=config.state_dir,
            web_enabled=False,
            topic_partitions=ADVOCATE_PARTITIONS,
            topic_replication_factor=config.replication_factor,
            topic_allow_declare=True,
            consumer_auto_offset_reset=config.offset_reset,
            producer_acks=-1,
            table_standby_replicas=0,
            # A SIGKILLed worker's partitions move after 10 s, not faust's default 60 s.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
            key_serializer="raw",
            value_serializer="json",
            # Room for two full batches: one being scored, the next prefetched.
            stream_buffer_maxsize=max(4096, 2 * config.batch_size),
        )
        source = app.topic(
            *(topic.name for topic in INPUT_TOPICS),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        self._table = app.Table(
            TABLE,
            partitions=ADVOCATE_PARTITIONS,
            # Keys "<tenant>:<advocate>" as raw UTF-8 (app default), values as JSON.
            key_type=str,
            # Changelog partition = the key's partition, like the source topics.
            use_partitioner=True,
        )
        app.agent(source, name="score")(self._consume)
        return app

    async def _consume(self, stream: faust.StreamT[bytes]) -> None:
        # Acked by hand, only once a batch's effects are out: faust's take_events
        # (and plain iteration) ack in a `finally`, so an agent cancelled by a
        # rebalance mid-batch would commit events it never scored (measured
        # here: shares lost after a worker restart).
        batches = stream.noack_take(  # type: ignore[attr-defined]
            self._config.batch_size, within=self._config.linger_seconds
        )
        async for events in batches:
            assigned = self._app.consumer.assignment() if self._app is not None else set()
            records = [_source_record(event) for event in events]
            async with self._scoring:
                await self._process_until_done([r for r in records if r.tp in assigned])
            for event in events:
                await stream.ack(event)

    async def _process_until_done(self, delivered: Sequence[SourceRecord]) -> None:
        """MongoDB or Kafka down: retry the same batch (nothing was applied) until it passes."""
        delay = 0.2
        while True:
            try:
                await self._process(delivered)
                return
            except (PyMongoError, KafkaError, TimeoutError) as exc:
                log.warning("scoring batch failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _process(self, delivered: Sequence[SourceRecord]) -> None:
        records = await self._positions.complete(delivered)
        batch = _Batch(self._table)
        outgoing: list[OutgoingRecord] = []
        for record in records:
            outgoing.extend(await self._score(batch, record))
        states = batch.finished()
        await self._standings.write(states)
        await self._producer.send_all(outgoing)
        for (tenant, advocate), state in states.items():
            self._table[f"{tenant}:{advocate}"] = state.to_json()
        self._positions.advance(records)

    async def _score(self, batch: _Batch, record: SourceRecord) -> list[OutgoingRecord]:
        headers = list(record.headers)
        try:
            item = incoming(record.topic, record.key, record.value, headers)
        except UndecodableEvent as exc:
            return [self._dead_letter(record, f"undecodable: {exc}")]
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

    async def _apply(self, batch: _Batch, item: Incoming, record: SourceRecord) -> Outcome:
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

    def _dead_letter(self, record: SourceRecord, reason: str) -> OutgoingRecord:
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
                list(record.headers),
                reason=reason,
                group=GROUP,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            ),
        )


def _source_ends(app: faust.App) -> dict[TopicPartition, int]:
    """Where each assigned source partition ends (those fetched from at least once)."""
    ends = {}
    for tp in app.consumer.assignment():
        end = app.consumer.highwater(tp)
        if end is not None and not tp.topic.endswith("-changelog"):
            ends[TopicPartition(tp.topic, tp.partition)] = end
    return ends


def _source_record(event: faust.types.EventT[bytes]) -> SourceRecord:
    message = event.message
    headers = [(name, value) for name, value in (event.headers or {}).items()]
    return SourceRecord(
        message.topic, message.partition, message.offset, event.key, event.value, headers
    )
