"""The kit's consumer across rebalances, on the real broker: members join and
leave one group while events flow, nobody dies of it (before, a lag report on a
revoked partition stopped the worker), every event has exactly one effect, and
each member's lag gauges cover only the partitions it owns."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.kit.consumer import EventConsumer
from chorus.kit.dedupe import MongoDeduplicator
from chorus.kit.envelope import Envelope
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_APPROVED
from chorus_testing import create_dead_letter_topic, eventually, unique

EVENTS = 3_000
PARTITIONS = 6


def lag_partitions(metrics: Metrics, group: str) -> set[int]:
    text = metrics.render().decode()
    pattern = rf'chorus_consumer_lag\{{group="{re.escape(group)}",partition="(\d+)"'
    return {int(p) for p in re.findall(pattern, text)}


async def test_members_join_and_leave_under_load_with_one_effect_per_event(
    kafka_bootstrap: str, fresh_topic: Any, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED, partitions=PARTITIONS)
    group = unique("test-rebalance")
    await create_dead_letter_topic(kafka_bootstrap, group)
    effects = mongo_db["effects"]
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=Metrics(), client_id="test")
    await producer.start()

    async def apply(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        await asyncio.sleep(0.002)  # batches take a while, so revocations land mid-batch
        await effects.update_one(
            {"_id": event.message.content_id}, {"$inc": {"count": 1}}, upsert=True
        )

    def member() -> tuple[EventConsumer, Metrics]:
        metrics = Metrics()
        consumer = EventConsumer(
            bootstrap=kafka_bootstrap,
            group=group,
            handlers={topic: apply},
            producer=producer,
            metrics=metrics,
            dedupe=MongoDeduplicator(mongo_db),
            concurrency=8,
        )
        return consumer, metrics

    async def flow() -> None:
        for n in range(EVENTS):
            await producer.publish(topic, f"acme:k{n % 97}", ContentApproved(content_id=f"c{n}"))
            if n % 100 == 99:
                await asyncio.sleep(0.1)

    first, first_metrics = member()
    second, _ = member()
    third, _ = member()
    await first.start()
    flowing = asyncio.create_task(flow())
    try:
        await asyncio.sleep(2)
        await second.start()
        await asyncio.sleep(4)
        await third.start()
        await asyncio.sleep(4)
        await second.stop()
        await asyncio.sleep(3)
        assert first.running and third.running
        await third.stop()
        await flowing

        async def all_applied() -> bool:
            return await effects.count_documents({}) == EVENTS

        await eventually(all_applied, timeout=90, interval=0.5)
        await asyncio.sleep(2)  # a late second effect would show by now
        assert first.running, "a rebalance stopped the first member"
        counts = {doc["count"] async for doc in effects.find({}, {"count": 1})}
        assert counts == {1}, f"effects per event: {counts}"
        text = first_metrics.render().decode()
        rebalances = re.search(
            rf'chorus_consumer_rebalances_total\{{group="{re.escape(group)}"\}} (\d+)', text
        )
        assert rebalances and int(rebalances.group(1)) >= 5  # joined, +2, +3, -2, -3
    finally:
        flowing.cancel()
        for consumer in (third, second, first):
            await consumer.stop()
        await producer.stop()


async def test_a_member_reports_lag_only_for_the_partitions_it_owns(
    kafka_bootstrap: str, fresh_topic: Any, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED, partitions=PARTITIONS)
    group = unique("test-rebalance-lag")
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=Metrics(), client_id="test")
    await producer.start()
    handled = 0

    async def count(_event: Envelope) -> None:
        nonlocal handled
        handled += 1

    members = [
        (
            EventConsumer(
                bootstrap=kafka_bootstrap,
                group=group,
                handlers={topic: count},
                producer=producer,
                metrics=metrics,
            ),
            metrics,
        )
        for metrics in (Metrics(), Metrics())
    ]
    try:
        await members[0][0].start()
        for n in range(60):
            await producer.publish(topic, f"acme:k{n}", ContentApproved(content_id=f"c{n}"))
        await eventually(lambda: asyncio.sleep(0, handled >= 60))
        assert lag_partitions(members[0][1], group) == set(range(PARTITIONS))
        await members[1][0].start()
        for n in range(60, 120):
            await producer.publish(topic, f"acme:k{n}", ContentApproved(content_id=f"c{n}"))
        await eventually(lambda: asyncio.sleep(0, handled >= 120))

        def split() -> bool:
            owned = [lag_partitions(metrics, group) for _, metrics in members]
            return bool(owned[0] and owned[1] and not owned[0] & owned[1])

        await eventually(lambda: asyncio.sleep(0, split()), timeout=30)
        assert all(consumer.running for consumer, _ in members)
    finally:
        for consumer, _ in reversed(members):
            await consumer.stop()
        await producer.stop()
