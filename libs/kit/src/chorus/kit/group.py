"""One member of a Kafka consumer group: fetch a batch, hand it to a batch
handler, commit what the handler finished — and take rebalances in stride.

Rebalances through aiokafka's public listener: when the group takes partitions
away, `interrupted` is set (a handler starts no new record), the member waits
for the batch in hand and commits what it finished (the generation is still
valid until the listener returns), then forgets those partitions. Anything not
finished is fetched again, here or by the new owner, from the first record not
done (a seek, never a skip). A commit refused after a rebalance is normal.

Offsets are committed only for records the handler finished, so a crash
redelivers the rest; handlers make redelivery harmless (dedupe, idempotence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from chorus.kit.metrics import Metrics

log = logging.getLogger(__name__)

# Lag is reported at most this often (and while idle too).
LAG_REPORT_SECONDS = 1.0

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Batch: TypeAlias = "dict[TopicPartition, list[Record]]"


@dataclass
class BatchProgress:
    """The records of one batch a handler has finished (effects durable)."""

    completed: set[tuple[str, int, int]] = field(default_factory=set)

    def done(self, record: Record) -> None:
        self.completed.add((record.topic, record.partition, record.offset))

    def all_done(self, batch: Batch) -> None:
        for records in batch.values():
            for record in records:
                self.done(record)

    def committable(self, batch: Batch) -> dict[TopicPartition, int]:
        """Per partition, the offset after the longest run of finished records
        from the start of the batch: nothing unfinished is ever committed."""
        offsets: dict[TopicPartition, int] = {}
        for partition, records in batch.items():
            for record in records:  # in offset order, as fetched
                if (record.topic, record.partition, record.offset) not in self.completed:
                    break
                offsets[partition] = record.offset + 1
        return offsets


BatchHandler = Callable[[Batch, BatchProgress], Awaitable[None]]


class Interrupted(Exception):
    """Raised by a handler that stopped early because `interrupted` was set."""


class GroupMember:
    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        handle: BatchHandler,
        metrics: Metrics,
        max_batch: int = 200,
        fetch_timeout_ms: int = 300,
        client_id: str | None = None,
        offset_reset: str = "earliest",
        failure_pause_seconds: float = 1.0,
    ) -> None:
        self.group = group
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._handle = handle
        self._metrics = metrics
        self._max_batch = max_batch
        self._fetch_timeout_ms = fetch_timeout_ms
        self._client_id = client_id or group
        self._offset_reset = offset_reset
        self._failure_pause = failure_pause_seconds
        self._stopping = False
        # Set by stop() and by a revocation: a handler starts no new record.
        self.interrupted = asyncio.Event()
        # Set while no batch is in hand (a revocation waits for it).
        self._idle = asyncio.Event()
        self._idle.set()
        self._lag_reported_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._kafka: AIOKafkaConsumer | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Join the group; a stopped (or crashed) member can be started again."""
        self._stopping = False
        self.interrupted.clear()
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset=self._offset_reset,
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
        )
        self._kafka.subscribe(self._topics, listener=_Rebalances(self))
        await self._kafka.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group}")

    async def stop(self) -> None:
        """Finish the record in hand, commit what is done, leave the group."""
        self._stopping = True
        self.interrupted.set()
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
            batch = await kafka.getmany(
                timeout_ms=self._fetch_timeout_ms, max_records=self._max_batch
            )
            if batch:
                self._idle.clear()
                try:
                    await self._run_batch(kafka, batch)
                finally:
                    self._idle.set()
            if time.monotonic() - self._lag_reported_at >= LAG_REPORT_SECONDS:
                await self._report_lag(kafka)
                self._lag_reported_at = time.monotonic()

    async def _run_batch(self, kafka: AIOKafkaConsumer, batch: Batch) -> None:
        progress = BatchProgress()
        failed = False
        if not self.interrupted.is_set():  # else: fetched for partitions being revoked
            try:
                await self._handle(batch, progress)
            except Interrupted:
                pass
            except Exception:
                # The infrastructure failed (MongoDB, the producer), not the event:
                # keep what is done, go back to the first record not done, retry.
                log.exception("consumer batch failed; retrying it", extra={"group": self.group})
                failed = True
        done = progress.committable(batch)
        await self._commit(kafka, done)
        assigned = kafka.assignment()
        for partition, records in batch.items():
            resume = done.get(partition, records[0].offset)
            if resume <= records[-1].offset and partition in assigned:
                kafka.seek(partition, resume)  # fetched again, never skipped
        if failed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.interrupted.wait(), self._failure_pause)

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

    async def _report_lag(self, kafka: AIOKafkaConsumer) -> None:
        """Records behind the end of every partition owned now."""
        for tp in list(kafka.assignment()):
            try:
                position = await kafka.position(tp)
            except IllegalStateError:
                continue  # revoked meanwhile
            # Re-checked after the await: asking about a revoked partition is an error.
            highwater = kafka.highwater(tp) if tp in kafka.assignment() else None
            if highwater is not None:
                self._metrics.consumer_lag.labels(tp.topic, self.group, str(tp.partition)).set(
                    max(0, highwater - position)
                )

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        self.interrupted.set()
        await self._idle.wait()
        for tp in revoked:
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, self.group, str(tp.partition))

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        if not self._stopping:
            self.interrupted.clear()
        self._metrics.consumer_rebalances.labels(self.group).inc()
        self._metrics.consumer_assigned.labels(self.group).set(len(assigned))
        log.info(
            "partitions assigned",
            extra={
                "group": self.group,
                "partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
            },
        )


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's public rebalance hook, awaited by the group coordinator."""

    def __init__(self, member: GroupMember) -> None:
        self._member = member

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._member._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._member._on_assigned(assigned)
