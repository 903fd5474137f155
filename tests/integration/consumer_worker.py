"""A consumer process for the redelivery test: it applies each event as an
increment in MongoDB and hangs (before its batch is committed) on the event
whose content id is given, so the test can SIGKILL it there.

usage: consumer_worker.py BOOTSTRAP TOPIC GROUP MONGO_URL DATABASE HANG_ON
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from pymongo import AsyncMongoClient

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.kit.consumer import EventConsumer
from chorus.kit.dedupe import MongoDeduplicator
from chorus.kit.envelope import Envelope
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_APPROVED


async def main(
    bootstrap: str, topic_name: str, group: str, mongo_url: str, database: str, hang_on: str
) -> None:
    db = AsyncMongoClient(mongo_url)[database]
    metrics = Metrics()
    producer = EventProducer(bootstrap, source="/worker", metrics=metrics, client_id="worker")
    await producer.start()

    async def apply(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        if event.message.content_id == hang_on:
            print(f"blocked on {hang_on}", flush=True)
            await asyncio.sleep(3600)
        await db["effects"].update_one(
            {"_id": event.message.content_id}, {"$inc": {"count": 1}}, upsert=True
        )

    consumer = EventConsumer(
        bootstrap=bootstrap,
        group=group,
        handlers={replace(CONTENT_APPROVED, name=topic_name): apply},
        producer=producer,
        metrics=metrics,
        dedupe=MongoDeduplicator(db),
    )
    await consumer.start()
    await consumer.wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
