"""The engine's own record of how far each source partition has been scored.

faust-streaming 0.15.3 commits what its consumer *believes* was acked: after
a restart or rebalance it re-seeks, records fetched before the seek are
dropped or delivered twice, and it registers the difference as an offset
"gap" that it then counts as acked (measured here: gaps of ~14-21 offsets
per partition right after a restart; the records in them never reached the
agent, yet the commit moved past them). So the engine does not trust the
delivery order:

- it keeps, per source partition, the next offset it has not scored yet
  (from the group's committed offset when it gains the partition);
- before scoring a batch it reads any offset the batch skipped straight from
  the broker (real gaps — transaction markers — simply return nothing) and
  drops records it has already scored;
- it commits its own positions, never faust's acks.

Every record below a committed position has therefore been scored, and its
table update was flushed before the commit (see ScoringEngine).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter

# How long a read of skipped offsets may take before the batch is retried.
READ_TIMEOUT_SECONDS = 30.0
# A partition behind its end that has not moved for this long is read directly.
STALL_SECONDS = 5.0
# At most this many offsets per partition per direct read.
STALL_READ_LIMIT = 5000


@dataclass(frozen=True)
class SourceRecord:
    """One record of a source topic, however it reached the engine."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


def skipped_range(next_offset: int, offsets: Iterable[int]) -> tuple[int, int] | None:
    """The offsets [start, end) to read from the broker so that nothing from
    next_offset up to the batch's last record goes unseen; None if the batch
    covers them all."""
    wanted = sorted({offset for offset in offsets if offset >= next_offset})
    if not wanted:
        return None
    expected = next_offset
    for offset in wanted:
        if offset != expected:
            return expected, wanted[-1]
        expected += 1
    return None


def in_order(
    records: Iterable[SourceRecord], next_offsets: Mapping[TopicPartition, int]
) -> list[SourceRecord]:
    """Each partition's records once, in offset order, without those before its position."""
    unique: dict[tuple[TopicPartition, int], SourceRecord] = {}
    for record in records:
        if record.offset >= next_offsets.get(record.tp, 0):
            unique.setdefault((record.tp, record.offset), record)
    return [unique[key] for key in sorted(unique, key=lambda key: (key[0], key[1]))]


class SourcePositions:
    def __init__(self, bootstrap: str, group: str, offset_reset: str, recovered: Counter) -> None:
        self._bootstrap = bootstrap
        self._recovered = recovered
        self._group = group
        self._offset_reset = offset_reset
        self._next: dict[TopicPartition, int] = {}
        self._moved_at: dict[TopicPartition, float] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, client_id=f"{self._group}-positions"
        )
        await self._admin.start()
        # No group: this consumer only reads ranges, it never commits anything.
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self._group}-gap-reader",
        )
        await self._reader.start()

    async def stop(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
        if self._admin is not None:
            await self._admin.close()

    def committable(self, assigned: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Positions to commit: every record below them has been scored."""
        return {tp: self._next[tp] for tp in assigned if tp in self._next}

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """A partition this worker lost: whoever owns it next moves it on."""
        for tp in partitions:
            self._next.pop(TopicPartition(tp.topic, tp.partition), None)
            self._moved_at.pop(TopicPartition(tp.topic, tp.partition), None)

    def advance(self, records: Iterable[SourceRecord]) -> None:
        now = time.monotonic()
        for record in records:
            if record.offset >= self._next.get(record.tp, 0):
                self._next[record.tp] = record.offset + 1
                self._moved_at[record.tp] = now

    async def stalled(self, ends: Mapping[TopicPartition, int]) -> list[SourceRecord]:
        """The records of partitions that are behind their end and have not moved
        for STALL_SECONDS — what faust fetched but never delivered (dropped on a
        re-seek with nothing after it to reveal the gap) — read from the broker."""
        await self._learn({tp: [end] for tp, end in ends.items()})
        now = time.monotonic()
        ranges = {
            tp: (self._next[tp], min(end, self._next[tp] + STALL_READ_LIMIT))
            for tp, end in ends.items()
            if self._next[tp] < end and now - self._moved_at.get(tp, 0.0) > STALL_SECONDS
        }
        found = await self._read(ranges) if ranges else []
        for record in found:
            self._recovered.labels(record.topic).inc()
        return in_order(found, self._next)

    async def complete(self, records: Sequence[SourceRecord]) -> list[SourceRecord]:
        """The records to score for this batch: what it delivered plus anything it
        skipped, minus anything already scored, per partition in offset order."""
        by_partition: dict[TopicPartition, list[int]] = defaultdict(list)
        for record in records:
            by_partition[record.tp].append(record.offset)
        await self._learn(by_partition)
        ranges = {
            tp: span
            for tp, offsets in by_partition.items()
            if (span := skipped_range(self._next[tp], offsets)) is not None
        }
        found = await self._read(ranges) if ranges else []
        complete = in_order([*records, *found], self._next)
        delivered = {(record.tp, record.offset) for record in records}
        for record in complete:
            if (record.tp, record.offset) not in delivered:
                self._recovered.labels(record.topic).inc()
        return complete

    async def _learn(self, by_partition: Mapping[TopicPartition, list[int]]) -> None:
        """Start a partition seen for the first time at the group's committed offset."""
        unknown = [tp for tp in by_partition if tp not in self._next]
        if not unknown:
            return
        assert self._admin is not None and self._reader is not None
        committed = await self._admin.list_consumer_group_offsets(self._group, partitions=unknown)
        fresh = [tp for tp in unknown if committed.get(tp) is None or committed[tp].offset < 0]
        beginnings = (
            await self._reader.beginning_offsets(fresh)
            if fresh and self._offset_reset == "earliest"
            else {}
        )
        for tp in unknown:
            self._moved_at[tp] = time.monotonic()
            if tp not in fresh:
                self._next[tp] = committed[tp].offset
            elif tp in beginnings:
                self._next[tp] = beginnings[tp]
            else:  # a new group starting at "latest": the first record it was given
                self._next[tp] = min(by_partition[tp])

    async def _read(self, ranges: Mapping[TopicPartition, tuple[int, int]]) -> list[SourceRecord]:
        reader = self._reader
        assert reader is not None
        reader.assign(list(ranges))
        for tp, (start, _) in ranges.items():
            reader.seek(tp, start)
        found: list[SourceRecord] = []
        pending = set(ranges)
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while pending:
                fetched = await reader.getmany(*pending, timeout_ms=500)
                for tp, batch in fetched.items():
                    end = ranges[tp][1]
                    found += [
                        SourceRecord(
                            r.topic, r.partition, r.offset, r.key, r.value, list(r.headers)
                        )
                        for r in batch
                        if r.offset < end
                    ]
                for tp in list(pending):
                    if await reader.position(tp) >= ranges[tp][1]:
                        pending.discard(tp)
        return found
