"""Outbox, not dual writes: the events a state change causes are written in the
same MongoDB document as the change (FerretDB has no multi-document
transactions), and a relay publishes them, in order, then pops them.

A crash between the write and the publish loses nothing: the relay finds the
pending events on its next pass. A crash after publishing but before popping
publishes an event again with the same ce_id, which consumers dedupe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from opentelemetry import context as otel_context
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from chorus.kit.envelope import new_event_id
from chorus.kit.producer import EventProducer
from chorus.kit.topics import Topic, by_name
from chorus.kit.tracing import extract_context, inject_headers

log = logging.getLogger(__name__)

OUTBOX = "outbox"
PENDING = "outbox_pending"


def outbox_entry(topic: Topic, key: str, message: Message) -> dict[str, Any]:
    """An event to store with the state change; carries the current trace context."""
    return {
        "id": new_event_id(),
        "topic": topic.name,
        "key": key,
        "payload": message.SerializeToString(),
        "time": datetime.now(UTC),
        "trace": inject_headers(),
    }


def with_outbox(update: dict[str, Any], entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add `entries` to a MongoDB update document, marking the document pending."""
    if not entries:
        return update
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})[OUTBOX] = {"$each": list(entries)}
    merged.setdefault("$set", {})[PENDING] = True
    return merged


class OutboxRelay:
    def __init__(
        self,
        producer: EventProducer,
        collections: Sequence[AsyncCollection[dict[str, Any]]],
        *,
        idle_interval: float = 1.0,
    ) -> None:
        self._producer = producer
        self._collections = collections
        self._idle_interval = idle_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        for collection in self._collections:
            await collection.create_index([(PENDING, ASCENDING)])

    def kick(self) -> None:
        """Publish soon: called by use cases right after they wrote events."""
        self._wake.set()

    async def start(self) -> None:
        await self.ensure_indexes()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self) -> int:
        """Publish every pending event once; returns how many were published.
        Documents are relayed side by side; the events of one document in order."""
        published = 0
        slots = asyncio.Semaphore(16)
        for collection in self._collections:
            pending = [doc async for doc in collection.find({PENDING: True}).limit(500)]

            async def relay(doc: dict[str, Any], target: Any = collection) -> int:
                async with slots:
                    return await self._publish_document(target, doc)

            published += sum(await asyncio.gather(*(relay(doc) for doc in pending)))
        return published

    async def _run(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_interval)
            self._wake.clear()

    async def _publish_document(
        self, collection: AsyncCollection[dict[str, Any]], doc: dict[str, Any]
    ) -> int:
        entries: list[dict[str, Any]] = doc.get(OUTBOX, [])
        if not entries:
            await collection.update_one(
                {"_id": doc["_id"], OUTBOX: {"$size": 0}}, {"$set": {PENDING: False}}
            )
        for entry in entries:
            topic = by_name(entry["topic"])
            message = topic.message_type.FromString(entry["payload"])
            token = otel_context.attach(extract_context(entry.get("trace", {})))
            try:
                await self._producer.publish(
                    topic, entry["key"], message, event_id=entry["id"], time=entry["time"]
                )
            finally:
                otel_context.detach(token)
            # Pop exactly the entry just published (the first one), never a newer
            # one; popping the last one also clears the pending mark, in one write.
            first = {"_id": doc["_id"], f"{OUTBOX}.0.id": entry["id"]}
            last = await collection.update_one(
                {**first, OUTBOX: {"$size": 1}}, {"$pop": {OUTBOX: -1}, "$set": {PENDING: False}}
            )
            if last.matched_count == 0:
                await collection.update_one(first, {"$pop": {OUTBOX: -1}})
        return len(entries)
