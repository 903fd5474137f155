"""The consumer loop: decode, dedupe, handle with bounded retries, dead-letter,
then commit — only after the handler's work is durable.

Offsets are committed per batch after every record in it was handled (or
dead-lettered). A crash before the commit redelivers the batch; the dedupe hook
and idempotent handlers make the redelivery harmless.

Rebalances are routine: when the group takes partitions away, the batch in
hand stops at a record boundary (no new record starts), what is done is
committed before the revocation completes, and the rest is left to the new
owner. Per-partition bookkeeping (lag) follows the current assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry.trace import SpanKind, Status, StatusCode

from chorus.kit.dedupe import Deduplicator
from chorus.kit.envelope import Envelope, Headers, UndecodableEvent, decode
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer, headers_with
from chorus.kit.retry import RetryPolicy
from chorus.kit.topics import Topic, dead_letter_topic
from chorus.kit.tracing import extract_context, tracer

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]


class PermanentError(Exception):
    """A handler failure that no retry can fix: the event goes to the dead-letter topic."""


class _Interrupted(Exception):
    """Stop or a revocation came while the batch was in hand: no new record starts."""


def dead_letter_headers(
    headers: Headers, *, reason: str, group: str, topic: str, partition: int, offset: int
) -> Headers:
    """The record's own headers plus why and where from it was dead-lettered
    (what a replay tool needs to route it back)."""
    return headers_with(
        headers,
        {
            "dlq_reason": reason[:1000],
            "dlq_origin_topic": topic,
            "dlq_origin_partition": str(partition),
            "dlq_origin_offset": str(offset),
            "dlq_group": group,
            "dlq_failed_at": datetime.now(UTC).isoformat(),
        },
    )


Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@dataclass
class _BatchProgress:
    """What one batch has done so far: the offsets handled and, for dedupe, the
    ids applied before it (asked once per batch) or earlier in it."""

    completed: set[tuple[str, int, int]] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)


def _event_id(record: ConsumerRecord[bytes, bytes]) -> str | None:
    """The ce_id header as the envelope decodes it (the last one wins)."""
    found = None
    for name, value in record.headers or ():
        if name == "ce_id":
            found = bytes(value).decode(errors="replace")
    return found


def _committable(
    batch: Batch,
    completed: set[tuple[str, int, int]],
) -> dict[TopicPartition, int]:
    """Per partition, the offset after the longest run of handled records from
    the start of the batch: nothing unhandled is ever committed."""
    offsets: dict[TopicPartition, int] = {}
    for partition, records in batch.items():
        for record in sorted(records, key=lambda r: r.offset):
            if (record.topic, record.partition, record.offset) not in completed:
                break
            offsets[partition] = record.offset + 1
    return offsets


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        handlers: Mapping[Topic, Handler],
        producer: EventProducer,
        metrics: Metrics,
        dedupe: Deduplicator | None = None,
        retry: RetryPolicy | None = None,
        max_batch: int = 200,
        concurrency: int = 1,
        client_id: str | None = None,
    ) -> None:
        if not handlers:
            raise ValueError("a consumer needs at least one topic handler")
        self.group = group
        self.dead_letter_topic = dead_letter_topic(group)
        self._topics = {topic.name: topic for topic in handlers}
        self._handlers = {topic.name: handler for topic, handler in handlers.items()}
        self._producer = producer
        self._metrics = metrics
        self._dedupe = dedupe
        self._retry = retry or RetryPolicy()
        self._max_batch = max_batch
        self._concurrency = max(1, concurrency)
        self._bootstrap = bootstrap
        self._client_id = client_id or group
        self._stopping = False
        # Set by stop and by a revocation: the batch in hand starts no new record.
        self._interrupted = asyncio.Event()
        # Set while no batch is in hand (a revocation waits for it).
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._next_offsets: dict[TopicPartition, int] = {}
        self._kafka: AIOKafkaConsumer | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Join the group; a stopped (or crashed) consumer can be started again."""
        self._stopping = False
        self._interrupted.clear()
        self._next_offsets.clear()
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
        )
        self._kafka.subscribe(list(self._topics), listener=_Rebalances(self))
        await self._kafka.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group}")

    async def stop(self) -> None:
        """Finish the record in hand, commit what is done, leave the group."""
        self._stopping = True
        self._interrupted.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        if self._kafka is not None:
            await self._kafka.stop()

    async def wait(self) -> None:
        """Return when the loop ended; raise if it died."""
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        kafka = self._kafka
        assert kafka is not None, "start() first"
        while not self._stopping:
            batch = await kafka.getmany(timeout_ms=300, max_records=self._max_batch)
            if self._interrupted.is_set():
                continue  # fetched for partitions being revoked: the new owner reads them
            self._idle.clear()
            try:
                await self._run_batch(kafka, batch)
            finally:
                self._idle.set()
            self._report_lag(kafka)

    async def _run_batch(self, kafka: AIOKafkaConsumer, batch: Batch) -> None:
        progress = _BatchProgress()
        failed = False
        try:
            if self._dedupe and batch:
                ids = {i for records in batch.values() for r in records if (i := _event_id(r))}
                progress.seen = await self._dedupe.seen(self.group, ids)
            await self._handle_batch(batch, progress)
        except _Interrupted:
            pass
        except Exception:
            # The infrastructure failed (MongoDB, the dead-letter producer), not the
            # event: keep what is done, go back to the first record not done, retry.
            log.exception("consumer batch failed; retrying it", extra={"group": self.group})
            failed = True
        done = _committable(batch, progress.completed)
        await self._commit(kafka, done)
        if failed:
            assigned = kafka.assignment()
            for partition, records in batch.items():
                if partition in assigned:
                    kafka.seek(partition, done.get(partition, records[0].offset))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._interrupted.wait(), 1)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Before the group hands `revoked` on: stop the batch in hand at a record
        boundary and let the loop commit what it finished (the generation is still
        valid until this returns), then forget those partitions."""
        self._interrupted.set()
        await self._idle.wait()
        for tp in revoked:
            if self._next_offsets.pop(tp, None) is not None:
                with contextlib.suppress(KeyError):
                    self._metrics.consumer_lag.remove(tp.topic, self.group, str(tp.partition))

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        if not self._stopping:
            self._interrupted.clear()
        self._metrics.consumer_rebalances.labels(self.group).inc()
        self._metrics.consumer_assigned.labels(self.group).set(len(assigned))
        log.info(
            "partitions assigned",
            extra={
                "group": self.group,
                "partitions": sorted(f"{t.topic}:{t.partition}" for t in assigned),
            },
        )

    async def _handle_batch(self, batch: Batch, progress: _BatchProgress) -> None:
        """Records with the same key stay in order; different keys run side by side
        (up to `concurrency` at once), so one slow advocate does not hold up others."""
        lanes: dict[tuple[str, int, bytes | None], list[ConsumerRecord[bytes, bytes]]] = {}
        for records in batch.values():
            for record in records:
                lanes.setdefault((record.topic, record.partition, record.key), []).append(record)
        slots = asyncio.Semaphore(self._concurrency)

        async def lane(records: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with slots:
                for record in records:
                    await self._handle(record, progress)
                    progress.completed.add((record.topic, record.partition, record.offset))

        results = await asyncio.gather(*(lane(r) for r in lanes.values()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        stopping = [e for e in errors if isinstance(e, _Interrupted)]
        others = [e for e in errors if not isinstance(e, _Interrupted)]
        if others:
            raise others[0]
        if stopping:
            raise stopping[0]

    async def _commit(self, kafka: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await kafka.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced: the new owner gets these records again and
            # dedupe keeps the redelivery from having a second effect.
            self._metrics.consumer_commits_refused.labels(self.group).inc()
            log.warning("commit refused after a rebalance", extra={"error": str(exc)})

    def _report_lag(self, kafka: AIOKafkaConsumer) -> None:
        # Only partitions assigned now (no await in between): asking about a
        # revoked one is an error in aiokafka.
        for tp in kafka.assignment():
            next_offset = self._next_offsets.get(tp)
            highwater = kafka.highwater(tp)
            if next_offset is not None and highwater is not None:
                self._metrics.consumer_lag.labels(tp.topic, self.group, str(tp.partition)).set(
                    max(0, highwater - next_offset)
                )

    async def _handle(self, record: ConsumerRecord[bytes, bytes], progress: _BatchProgress) -> None:
        if self._interrupted.is_set():
            raise _Interrupted()
        topic = self._topics[record.topic]
        self._next_offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        try:
            envelope = decode(topic, record.key, record.value, record.headers)
        except UndecodableEvent as exc:
            await self._dead_letter(record, f"undecodable: {exc}")
            return
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": self.group,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.message.id": envelope.id,
        }
        with tracer().start_as_current_span(
            f"process {record.topic}",
            context=extract_context(envelope.headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            # A copy later in the batch has the same key, hence the same lane:
            # it runs after this one and sees it in `seen` once applied.
            if self._dedupe and envelope.id in progress.seen:
                self._count(record, "duplicate")
                return
            reason = await self._handle_with_retries(record, envelope)
            if reason is not None:
                span.set_status(Status(StatusCode.ERROR, reason))
                await self._dead_letter(record, reason)
                return
            if self._dedupe:
                # Right after the effect, not at the end of the batch: a crash
                # mid-batch must not apply a handler's effect twice.
                await self._dedupe.remember(self.group, [envelope.id])
                progress.seen.add(envelope.id)
            self._count(record, "processed")

    async def _handle_with_retries(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope
    ) -> str | None:
        """Run the handler; None on success, else why it goes to the dead-letter topic."""
        handler = self._handlers[record.topic]
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await handler(envelope)
                return None
            except PermanentError as exc:
                return f"rejected: {exc}"
            except Exception as exc:
                if not self._retry.should_retry(attempt):
                    return f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                self._metrics.handler_retries.labels(record.topic, self.group).inc()
                log.warning(
                    "handler failed, retrying",
                    extra={
                        "topic": record.topic,
                        "event_id": envelope.id,
                        "attempt": attempt,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._interrupted.wait(), self._retry.delay(attempt))
                if self._interrupted.is_set():
                    raise _Interrupted() from exc
            finally:
                self._metrics.handler_latency.labels(record.topic, self.group).observe(
                    time.perf_counter() - started
                )

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        log.error(
            "event dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )
        headers = dead_letter_headers(
            list(record.headers or ()),
            reason=reason,
            group=self.group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        await self._producer.send_raw(self.dead_letter_topic, record.key, record.value, headers)
        self._count(record, "dead_lettered")

    def _count(self, record: ConsumerRecord[bytes, bytes], outcome: str) -> None:
        self._metrics.events_consumed.labels(record.topic, self.group, outcome).inc()


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's public rebalance hook, awaited by the group coordinator."""

    def __init__(self, consumer: EventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._consumer.on_assigned(assigned)
