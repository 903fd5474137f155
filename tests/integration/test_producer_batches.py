"""The producer's batched send_all against the real broker: every record
arrives once, in order within its partition, on the partition the key gives
(the same as a plain send) unless the record names one."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.kit.envelope import Encoder
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_APPROVED


async def test_send_all_keeps_order_per_partition_and_the_keys_partitions(
    kafka_bootstrap: str, fresh_topic: Any
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED, partitions=4)
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=Metrics(), client_id="batch")
    await producer.start()
    encoder = Encoder("/test")
    # Enough records to fill several batches per partition; every tenth names partition 3.
    records = [
        encoder.encode(
            topic,
            f"t:item-{n % 50}",
            ContentApproved(tenant="t", content_id=f"item-{n % 50}", title=str(n)),
            partition=3 if n % 10 == 0 else None,
        )
        for n in range(3000)
    ]
    try:
        await producer.send_all(records)
        # A plain send of one more record per key: where the partitioner puts each key.
        probes = {}
        for n in range(50):
            key = f"t:item-{n}".encode()
            metadata = await (await producer.kafka.send(topic.name, b"probe", key=key))
            probes[key] = metadata.partition
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    got: dict[int, list[int]] = {p: [] for p in range(4)}
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(4)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while sum(len(v) for v in got.values()) < len(records):
            batch = await consumer.getmany(timeout_ms=2000)
            assert batch, "records missing"
            for tp, fetched in batch.items():
                got[tp.partition] += [
                    int(ContentApproved.FromString(r.value).title)
                    for r in fetched
                    if r.value != b"probe"
                ]
    finally:
        await consumer.stop()

    sent: dict[int, list[int]] = {p: [] for p in range(4)}
    for record in records:
        partition = record.partition if record.partition is not None else probes[record.key]
        sent[partition].append(int(ContentApproved.FromString(record.value).title))
    assert all(sent.values()), "every partition got records"
    assert got == sent  # each on its partition, once, in the order sent
    assert len({dict(r.headers)["ce_id"] for r in records}) == len(records)
