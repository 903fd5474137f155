"""Reading and replaying a dead-letter topic (`chorus dlq list|replay <group>`).

A dead letter is the original record plus `dlq_*` headers saying why and where
from (chorus.kit.consumer.dead_letter_headers). Replaying re-publishes it to
its origin topic with its own key, value and headers, so every consumer of
that topic sees it again — they all dedupe by event id, so only the one that
failed acts on it. The tool's own consumer group `chorus-dlq-replay.<group>`
remembers how far it replayed: a second run never replays a record twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from chorus.kit.topics import dead_letter_topic

DLQ_PREFIX = "dlq_"


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    origin_topic: str
    origin_partition: int
    origin_offset: int
    reason: str
    failed_at: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the record's own, without dlq_*

    def summary(self) -> str:
        return (
            f"{self.offset}\t{self.origin_topic}[{self.origin_partition}]@{self.origin_offset}"
            f"\t{self.failed_at}\t{self.reason}"
        )


def dead_letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    marks = {k: v.decode() for k, v in record.headers if k.startswith(DLQ_PREFIX)}
    return DeadLetter(
        offset=record.offset,
        origin_topic=marks.get("dlq_origin_topic", ""),
        origin_partition=int(marks.get("dlq_origin_partition", "-1")),
        origin_offset=int(marks.get("dlq_origin_offset", "-1")),
        reason=marks.get("dlq_reason", ""),
        failed_at=marks.get("dlq_failed_at", ""),
        key=record.key,
        value=record.value,
        headers=tuple((k, v) for k, v in record.headers if not k.startswith(DLQ_PREFIX)),
    )


def replay_group(group: str) -> str:
    return f"chorus-dlq-replay.{group}"


async def _pending(
    consumer: AIOKafkaConsumer, topic: str, limit: int | None
) -> tuple[list[DeadLetter], dict[TopicPartition, int]]:
    """The dead letters after the replay group's position, up to the end as it is
    now, and the positions just after the last one taken."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    positions = {tp: await consumer.position(tp) for tp in partitions}
    letters: list[DeadLetter] = []
    remaining = {tp for tp in partitions if positions[tp] < ends[tp]}
    while remaining and (limit is None or len(letters) < limit):
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset >= ends[tp] or (limit is not None and len(letters) >= limit):
                    break
                letters.append(dead_letter(record))
                positions[tp] = record.offset + 1
            if positions[tp] >= ends[tp]:
                remaining.discard(tp)
    return letters, positions


async def read_dead_letters(
    bootstrap: str, group: str, *, replay: bool = False, limit: int | None = None
) -> Sequence[DeadLetter]:
    """The dead letters of `group` not replayed yet; with `replay`, re-publish them
    to their origin topics and remember that they were."""
    topic = dead_letter_topic(group)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=replay_group(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise LookupError(f"there is no dead-letter topic {topic}")
        while not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()
        letters, positions = await _pending(consumer, topic, limit)
        if replay and letters:
            await _republish(bootstrap, letters)
            await consumer.commit(positions)
        return letters
    finally:
        await consumer.stop()


async def _republish(bootstrap: str, letters: Sequence[DeadLetter]) -> None:
    unroutable = [letter.offset for letter in letters if not letter.origin_topic]
    if unroutable:
        raise ValueError(f"dead letters without dlq_origin_topic at offsets {unroutable}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.origin_topic, letter.value, key=letter.key, headers=list(letter.headers)
            )
    finally:
        await producer.stop()
