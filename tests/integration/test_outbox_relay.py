"""The kit's outbox relay on the real MongoDB and Kafka, as two replicas would
run it: woken by the change stream (a poll far too slow to matter),
each leasing what it publishes, so every event leaves once."""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chorus.contracts.content.v1.events_pb2 import ContentRetracted
from chorus.kit.metrics import Metrics
from chorus.kit.outbox import OutboxRelay, outbox_entry, with_outbox
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_RETRACTED
from chorus_testing import end_offsets, read_topic

pytestmark = pytest.mark.asyncio(loop_scope="session")

DOCUMENTS = 100


async def test_two_relays_woken_by_the_change_stream_publish_each_event_once(
    kafka_bootstrap: str, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    # The relay resolves topics by name in the registry: the real topic, a fresh tenant.
    topic = CONTENT_RETRACTED
    since = await end_offsets(kafka_bootstrap, topic.name)
    collection = mongo_db["items"]
    relays = []
    for replica in ("a", "b"):
        producer = EventProducer(
            kafka_bootstrap, source=f"/test/{replica}", metrics=Metrics(), client_id=replica
        )
        await producer.start()
        # A poll once a minute: only the change stream can make the events leave in time.
        relay = OutboxRelay(producer, [collection], idle_interval=60)
        await relay.start()
        relays.append((producer, relay))
    await asyncio.sleep(1)  # both change streams are open
    try:
        tenant = f"t-{uuid.uuid4().hex[:6]}"
        for n in range(DOCUMENTS):
            event = ContentRetracted(tenant=tenant, content_id=f"item-{n}")
            entry = outbox_entry(topic, f"{tenant}:item-{n}", event)
            # Half are inserted pending, half updated (twice: the second write
            # lands on a document that may still be pending).
            if n % 2:
                await collection.insert_one({"_id": n, "outbox": [entry], "outbox_pending": True})
            else:
                await collection.insert_one({"_id": n})
                await collection.update_one({"_id": n}, with_outbox({"$set": {"v": 1}}, [entry]))
                again = outbox_entry(topic, f"{tenant}:item-{n}", event)
                await collection.update_one({"_id": n}, with_outbox({"$set": {"v": 2}}, [again]))
        expected = DOCUMENTS + DOCUMENTS // 2
        prefix = f"{tenant}:".encode()
        records = await read_topic(
            kafka_bootstrap,
            topic.name,
            expect=expected,
            timeout=20,
            since=since,
            where=lambda r: r.key is not None and r.key.startswith(prefix),
        )
    finally:
        for producer, relay in relays:
            await relay.stop()
            await producer.stop()
    ids = collections.Counter(dict(r.headers)["ce_id"] for r in records)
    assert len(ids) == expected
    assert [i for i, count in ids.items() if count > 1] == []
    assert await collection.count_documents({"outbox_pending": True}) == 0
    assert await collection.count_documents({"outbox.0": {"$exists": True}}) == 0
