"""The physical baseline: raw aiokafka produce and consume throughput of 1 KiB
values on this machine, with one partition and with several.

Every other benchmark divides by these figures measured in the same run (these
machines are noisy), importing `produce_rate` and `consume_rate` from here.

    python bench/kafka_baseline.py [--messages 50000] [--bootstrap 127.0.0.1:9092]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

VALUE = os.urandom(1024)


async def create_topic(bootstrap: str, partitions: int) -> str:
    name = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def delete_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def produce_rate(bootstrap: str, topic: str, messages: int) -> float:
    """Messages per second with acks=all and idempotence, as the services produce."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for index in range(messages):
            pending.append(await producer.send(topic, VALUE, key=str(index % 1000).encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return messages / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume_rate(bootstrap: str, topic: str, messages: int) -> float:
    """Messages per second read from the start of `topic` by one consumer."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = 0
        started = None
        while seen < messages:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batch:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        assert started is not None
        return messages / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def measure(bootstrap: str, messages: int, partitions: int) -> dict[str, float]:
    topic = await create_topic(bootstrap, partitions)
    try:
        produced = await produce_rate(bootstrap, topic, messages)
        consumed = await consume_rate(bootstrap, topic, messages)
    finally:
        await delete_topic(bootstrap, topic)
    return {
        f"produce_msgs_per_s_p{partitions}": round(produced),
        f"produce_mib_per_s_p{partitions}": round(produced * len(VALUE) / 2**20, 1),
        f"consume_msgs_per_s_p{partitions}": round(consumed),
        f"consume_mib_per_s_p{partitions}": round(consumed * len(VALUE) / 2**20, 1),
    }


async def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader moves are retried
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    args = parser.parse_args()
    figures: dict[str, object] = {
        "benchmark": "kafka_baseline",
        "messages": args.messages,
        "value_bytes": len(VALUE),
    }
    for partitions in (1, 6):
        figures.update(await measure(args.bootstrap, args.messages, partitions))
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
