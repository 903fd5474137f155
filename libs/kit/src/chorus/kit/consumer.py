"""The consumer loop for per-event handlers: decode, dedupe, handle with
bounded retries, dead-letter, then commit — only after the handler's work is
durable (the group membership, commits and rebalances are in group.py).

Records with the same key run in order on one lane; lanes run side by side. A
crash before the commit redelivers the batch; the dedupe hook and idempotent
handlers make the redelivery harmless.

A topic whose handler is `Batched` gets its records in chunks instead, one call
per chunk, so that it can write them in one bulk write: a round trip per record
bounds a consumer to a few hundred records a second. When a chunk fails for
good, each of its records is tried once on its own, so only the poison ones are
dead-lettered (the chunk has had its retries: a record does not get them again,
which would hold the partition for minutes through an outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from chorus.kit.dedupe import Deduplicator
from chorus.kit.envelope import Envelope, Headers, UndecodableEvent, decode
from chorus.kit.group import Batch, BatchProgress, GroupMember, Interrupted, Record
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer, headers_with
from chorus.kit.retry import RetryPolicy
from chorus.kit.topics import Topic, dead_letter_topic
from chorus.kit.tracing import extract_context, linked_context, tracer

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]
M = TypeVar("M", bound=Message)


def handles(message_type: type[M], handle: Callable[[M, Envelope], Awaitable[None]]) -> Handler:
    """A topic's handler that takes the event's message as `message_type` (and
    the envelope, for its id and time). A record of another type is poison."""

    async def handler(event: Envelope) -> None:
        message = event.message
        if not isinstance(message, message_type):
            raise PermanentError(f"expected {message_type.__name__}, got {type(message).__name__}")
        await handle(message, event)

    return handler


# Records per call of a batched handler: also the span's links (OpenTelemetry
# keeps 128 links per span by default).
CHUNK_RECORDS = 128
_ONCE = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class Batched:
    """A topic's handler that takes a chunk of events at once, in offset order
    per partition. It must be idempotent by itself: a chunk can be redelivered
    whole, and the consumer's dedupe hook does not apply to it."""

    handle: Callable[[Sequence[Envelope]], Awaitable[None]]


class PermanentError(Exception):
    """A handler failure that no retry can fix: the event goes to the dead-letter topic."""


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


@dataclass
class _BatchProgress:
    """What one batch has done so far: the group's progress and, for dedupe,
    the ids applied before it (asked once per batch) or earlier in it."""

    group: BatchProgress
    seen: set[str] = field(default_factory=set)


def _event_id(record: Record) -> str | None:
    """The ce_id header as the envelope decodes it (the last one wins)."""
    found = None
    for name, value in record.headers or ():
        if name == "ce_id":
            found = bytes(value).decode(errors="replace")
    return found


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        handlers: Mapping[Topic, Handler | Batched],
        producer: EventProducer,
        metrics: Metrics,
        dedupe: Deduplicator | None = None,
        retry: RetryPolicy | None = None,
        max_batch: int = 200,
        concurrency: int = 1,
        client_id: str | None = None,
        topic_prefix: str = "",
    ) -> None:
        if not handlers:
            raise ValueError("a consumer needs at least one topic handler")
        if dedupe and any(isinstance(h, Batched) for h in handlers.values()):
            raise ValueError("batched handlers are idempotent by themselves: no dedupe hook")
        # The group's name on the broker, in metrics, spans and dead letters.
        self.group = topic_prefix + group
        # Sent through the producer, which adds the prefix.
        self.dead_letter_topic = dead_letter_topic(group)
        # Records arrive with the names of the namespace.
        self._topics = {topic_prefix + topic.name: topic for topic in handlers}
        self._handlers = {
            topic_prefix + topic.name: handler
            for topic, handler in handlers.items()
            if not isinstance(handler, Batched)
        }
        self._batched = {
            topic_prefix + topic.name: handler
            for topic, handler in handlers.items()
            if isinstance(handler, Batched)
        }
        self._producer = producer
        self._metrics = metrics
        self._dedupe = dedupe
        self._retry = retry or RetryPolicy()
        self._concurrency = max(1, concurrency)
        self._member = GroupMember(
            bootstrap=bootstrap,
            group=self.group,
            topics=list(self._topics),
            handle=self._run_batch,
            metrics=metrics,
            max_batch=max_batch,
            client_id=client_id,
        )

    @property
    def running(self) -> bool:
        return self._member.running

    async def start(self) -> None:
        """Join the group; a stopped (or crashed) consumer can be started again."""
        await self._member.start()

    async def stop(self) -> None:
        """Finish the record in hand, commit what is done, leave the group."""
        await self._member.stop()

    async def wait(self) -> None:
        """Return when the loop ended; raise if it died."""
        await self._member.wait()

    async def _run_batch(self, batch: Batch, done: BatchProgress) -> None:
        progress = _BatchProgress(done)
        chunked: dict[str, list[Record]] = {}
        one_by_one: Batch = {}
        for partition, records in batch.items():
            if partition.topic in self._batched:
                chunked.setdefault(partition.topic, []).extend(records)
            else:
                one_by_one[partition] = records
        for topic, records in chunked.items():
            for first in range(0, len(records), CHUNK_RECORDS):
                await self._handle_chunk(topic, records[first : first + CHUNK_RECORDS], progress)
        if not one_by_one:
            return
        if self._dedupe:
            ids = {i for records in one_by_one.values() for r in records if (i := _event_id(r))}
            progress.seen = await self._dedupe.seen(self.group, ids)
        await self._handle_batch(one_by_one, progress)

    async def _handle_chunk(
        self, topic_name: str, records: list[Record], progress: _BatchProgress
    ) -> None:
        """One call of the topic's batched handler for `records`; when it fails
        for good, one call per record, dead-lettering those that still fail."""
        if self._member.interrupted.is_set():
            raise Interrupted()
        topic, handler = self._topics[topic_name], self._batched[topic_name]
        decoded: list[tuple[Record, Envelope]] = []
        for record in records:
            try:
                decoded.append((record, decode(topic, record.key, record.value, record.headers)))
            except UndecodableEvent as exc:
                await self._dead_letter(record, f"undecodable: {exc}")
        if decoded:
            links = [Link(c) for _, e in decoded if (c := linked_context(e.headers))]
            with tracer().start_as_current_span(
                f"process {topic_name}",
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": topic_name,
                    "messaging.consumer.group.name": self.group,
                    "messaging.batch.message_count": len(decoded),
                },
            ) as span:
                envelopes = [envelope for _, envelope in decoded]
                label = f"{len(envelopes)} events from {envelopes[0].id}"
                reason = await self._with_retries(topic_name, label, handler.handle, envelopes)
                if reason is None:
                    self._metrics.events_consumed.labels(topic_name, self.group, "processed").inc(
                        len(decoded)
                    )
                elif len(decoded) == 1:
                    span.set_status(Status(StatusCode.ERROR, reason))
                    await self._dead_letter(decoded[0][0], reason)
                else:  # find the poison records: each one alone, once
                    span.set_status(Status(StatusCode.ERROR, reason))
                    for record, envelope in decoded:
                        alone = await self._with_retries(
                            topic_name, envelope.id, handler.handle, [envelope], _ONCE
                        )
                        if alone is None:
                            self._count(record, "processed")
                        else:
                            await self._dead_letter(record, alone)
        for record in records:
            progress.group.done(record)

    async def _handle_batch(self, batch: Batch, progress: _BatchProgress) -> None:
        """Records with the same key stay in order; different keys run side by side
        (up to `concurrency` at once), so one slow advocate does not hold up others."""
        lanes: dict[tuple[str, int, bytes | None], list[Record]] = {}
        for records in batch.values():
            for record in records:
                lanes.setdefault((record.topic, record.partition, record.key), []).append(record)
        slots = asyncio.Semaphore(self._concurrency)

        async def lane(records: list[Record]) -> None:
            async with slots:
                for record in records:
                    await self._handle(record, progress)
                    progress.group.done(record)

        results = await asyncio.gather(*(lane(r) for r in lanes.values()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        stopping = [e for e in errors if isinstance(e, Interrupted)]
        others = [e for e in errors if not isinstance(e, Interrupted)]
        if others:
            raise others[0]
        if stopping:
            raise stopping[0]

    async def _handle(self, record: Record, progress: _BatchProgress) -> None:
        if self._member.interrupted.is_set():
            raise Interrupted()
        topic = self._topics[record.topic]
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
            reason = await self._with_retries(
                record.topic, envelope.id, self._handlers[record.topic], envelope
            )
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

    async def _with_retries(
        self,
        topic: str,
        events: str,
        handler: Callable[[Any], Awaitable[None]],
        argument: Any,
        retry: RetryPolicy | None = None,
    ) -> str | None:
        """Run the handler on `argument` (an event, or a chunk of them); None on
        success, else why its events go to the dead-letter topic."""
        retry = retry or self._retry
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await handler(argument)
                return None
            except PermanentError as exc:
                return f"rejected: {exc}"
            except Exception as exc:
                if not retry.should_retry(attempt):
                    return f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                self._metrics.handler_retries.labels(topic, self.group).inc()
                log.warning(
                    "handler failed, retrying",
                    extra={
                        "topic": topic,
                        "events": events,
                        "attempt": attempt,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
                with contextlib.suppress(TimeoutError):
                    interrupted = self._member.interrupted
                    await asyncio.wait_for(interrupted.wait(), retry.delay(attempt))
                if self._member.interrupted.is_set():
                    raise Interrupted() from exc
            finally:
                self._metrics.handler_latency.labels(topic, self.group).observe(
                    time.perf_counter() - started
                )

    async def _dead_letter(self, record: Record, reason: str) -> None:
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

    def _count(self, record: Record, outcome: str) -> None:
        self._metrics.events_consumed.labels(record.topic, self.group, outcome).inc()
