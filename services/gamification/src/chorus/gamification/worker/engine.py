"""The scoring engine's transport: a consumer group feeding app/scoring.py.

One consumer group reads share.performed, engagement.observed and
advocate.lifecycle, co-partitioned by "<tenant>:<advocate>", so each
advocate's events reach one worker, in partition order. Workers keep no state
between batches: each advocate's AdvocateState is a MongoDB document holding
the ids of the events it counted and the offset of the last one per topic
(adapters/engine_states.py), so any worker can take any partition at any time.

Per batch: decode (poison goes to the dead-letter topic with the batch's
announcements) → score (app/scoring.py) → commit. Metrics are counted per
batch, and tracing follows OpenTelemetry's convention for batch consumers —
a span per topic and chunk of the batch, linked to each record's trace.
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
from dataclasses import dataclass

from opentelemetry.trace import Link, SpanKind

from chorus.gamification.adapters.events import INPUT_TOPICS, Incoming, incoming
from chorus.gamification.app.scoring import Position, Scoring
from chorus.kit.consumer import dead_letter_headers
from chorus.kit.envelope import OutgoingRecord, UndecodableEvent
from chorus.kit.group import Batch, BatchProgress, GroupMember, Interrupted, Record
from chorus.kit.metrics import Metrics
from chorus.kit.topics import dead_letter_topic
from chorus.kit.tracing import linked_context, tracer

log = logging.getLogger(__name__)

GROUP = "gamification"
# Records per processing span (OpenTelemetry keeps at most 128 links a span).
SPAN_RECORDS = 128


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


class ScoringEngine:
    def __init__(self, config: EngineConfig, *, scoring: Scoring, metrics: Metrics) -> None:
        self._config = config
        self._scoring = scoring
        self._consumed = metrics.events_consumed
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
        events = [
            (Position(record.topic, record.partition, record.offset), item)
            for record, item in decoded
            if isinstance(item, Incoming)
        ]
        poison = [(record, reason) for record, reason in decoded if isinstance(reason, str)]
        tally = await self._scoring.score(
            events,
            extra=[_dead_letter(record, reason) for record, reason in poison],
            checkpoint=self._checkpoint,
        )
        _trace(decoded, started)
        for (topic, status), count in tally.outcomes.items():
            self._consumed.labels(topic, GROUP, status).inc(count)
        for record, _ in poison:
            self._consumed.labels(record.topic, GROUP, "dead_lettered").inc()
        progress.all_done(batch)

    async def _checkpoint(self) -> None:
        """Let the heartbeat run (a loop held for the session timeout gets the
        worker thrown out of its group), and give a revoked batch up while
        nothing of it is written yet."""
        await asyncio.sleep(0)
        if self._member.interrupted.is_set():
            raise Interrupted()


def _dead_letter(record: Record, reason: str) -> OutgoingRecord:
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
