"""Publishes the click journal to engagement.observed exactly once.

Each batch of click events and the journal offset it reaches are written in one
Kafka transaction (the offset as a JournalCheckpoint on a compacted topic). A
crash aborts the open transaction; on start the relay reads the last committed
checkpoint and resumes right after it. Consumers read with
isolation_level=read_committed, so every answered click appears exactly once.
The transactional id is per instance, so a zombie instance is fenced off.

On SIGTERM the relay publishes what is left in the journal before it stops (the
HTTP server has stopped answering by then), so a replica scaled away leaves no
answered click behind; a SIGKILLed one publishes the rest when it comes back
with its volume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.trace import SpanKind

from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_KIND_CLICK,
    ENGAGEMENT_KIND_UNIQUE_CLICK,
    ENGAGEMENT_SOURCE_REDIRECT,
    EngagementObserved,
)
from chorus.contracts.engagement.v1.journal_pb2 import JournalCheckpoint
from chorus.engagement.adapters.journal import ClickJournal, JournalRecord
from chorus.kit.envelope import encode, timestamp
from chorus.kit.metrics import Metrics
from chorus.kit.networks import network_pb
from chorus.kit.topics import ENGAGEMENT_JOURNAL_CHECKPOINTS, ENGAGEMENT_OBSERVED, advocate_key
from chorus.kit.tracing import inject_headers, tracer

log = logging.getLogger(__name__)

# Decides whether a click is its visitor's first on the link within 24 h.
IsUnique = Callable[[dict[str, object]], Awaitable[bool]]


def click_events(record: dict[str, object], unique: bool) -> list[tuple[str, EngagementObserved]]:
    """(event id, event) for one journal record: a click, and a unique click if it is one."""
    stamp = timestamp(datetime.fromisoformat(str(record["at"])))
    kinds = [("click", ENGAGEMENT_KIND_CLICK)]
    if unique:
        kinds.append(("unique", ENGAGEMENT_KIND_UNIQUE_CLICK))
    events = []
    for suffix, kind in kinds:
        event_id = f"{record['click_id']}:{suffix}"
        events.append(
            (
                event_id,
                EngagementObserved(
                    tenant=str(record["tenant"]),
                    advocate=str(record["advocate"]),
                    observation_id=event_id,
                    kind=kind,
                    delta=1,
                    share_id=str(record["share_id"]),
                    content_id=str(record["content_id"]),
                    network=network_pb(str(record["network"])),
                    source=ENGAGEMENT_SOURCE_REDIRECT,
                    observed_at=stamp,
                ),
            )
        )
    return events


class JournalRelay:
    def __init__(
        self,
        journal: ClickJournal,
        *,
        bootstrap: str,
        instance: str,
        source: str,
        is_unique: IsUnique,
        metrics: Metrics,
        topic_prefix: str = "",
    ) -> None:
        self._journal = journal
        self._prefix = topic_prefix
        self._bootstrap = bootstrap
        self._instance = instance
        self._source = source
        self._is_unique = is_unique
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self.offset = 0
        self.published = asyncio.Event()
        self._draining = False

    async def start(self) -> None:
        self._draining = False
        self.offset = await self._last_checkpoint()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            # The namespace's too: two stacks on one broker never fence each other.
            transactional_id=f"{self._prefix}chorus-engagement-journal-{self._instance}",
            client_id=f"engagement-journal-{self._instance}",
        )
        await self._producer.start()
        self._task = asyncio.create_task(self._run(), name="journal-relay")

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Publish what the journal still holds (for up to `drain_seconds`), then stop."""
        if self._task:
            self._draining = True
            self._journal.appended.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), drain_seconds)
            self._task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        if self._producer:
            await self._producer.stop()

    async def wait(self) -> None:
        if self._task:
            await self._task

    async def _last_checkpoint(self) -> int:
        """The offset of the last committed checkpoint of this instance (0 if none)."""
        topic = self._prefix + ENGAGEMENT_JOURNAL_CHECKPOINTS.name
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            offset = 0
            while await consumer.position(partition) < end:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                for record in batch.get(partition, []):
                    if record.key == self._instance.encode() and record.value:
                        offset = JournalCheckpoint.FromString(record.value).offset
                if not batch:
                    break  # only aborted or control records remain
            return offset
        finally:
            await consumer.stop()

    async def _run(self) -> None:
        while True:
            records = self._journal.read_from(self.offset)
            if not records:
                if self._draining:
                    return
                self._journal.appended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._journal.appended.wait(), 0.5)
                continue
            await self._publish(records)

    async def _publish(self, records: list[JournalRecord]) -> None:
        assert self._producer is not None
        uniques = await asyncio.gather(*(self._is_unique(r.data) for r in records))
        with tracer().start_as_current_span(
            f"send {ENGAGEMENT_OBSERVED.name}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": self._prefix + ENGAGEMENT_OBSERVED.name,
                "messaging.batch.message_count": len(records),
            },
        ):
            trace_headers = inject_headers()
            async with self._producer.transaction():
                for record, unique in zip(records, uniques, strict=True):
                    key = advocate_key(str(record.data["tenant"]), str(record.data["advocate"]))
                    for event_id, event in click_events(record.data, unique):
                        out = encode(
                            ENGAGEMENT_OBSERVED,
                            key,
                            event,
                            source=self._source,
                            event_id=event_id,
                            extra_headers=trace_headers,
                        )
                        await self._producer.send(
                            self._prefix + out.topic, out.value, key=out.key, headers=out.headers
                        )
                        self._metrics.events_published.labels(out.topic).inc()
                checkpoint = JournalCheckpoint(instance=self._instance, offset=records[-1].offset)
                out = encode(
                    ENGAGEMENT_JOURNAL_CHECKPOINTS, self._instance, checkpoint, source=self._source
                )
                await self._producer.send(
                    self._prefix + out.topic, out.value, key=out.key, headers=out.headers
                )
        self.offset = records[-1].offset
        self.published.set()
