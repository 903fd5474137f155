"""Outbox, not dual writes: the events a state change causes are written in the
same MongoDB document as the change (one atomic single-document write, no
transaction needed), and a relay publishes them, in order, then removes them.

The relay is woken by the write itself, through a change stream on the
outbox collections (an event leaves within milliseconds of its write,
whichever replica wrote it), and by a slow poll as the safety net for anything
a change stream missed (say, while it reconnected). Use cases only write:
they never tell the relay. Every
replica runs a relay and every one of them wakes: a relay first leases the
documents it will publish (a conditional update naming itself), so two
replicas do not publish the same events side by side; a lease left by a relay
that died expires after `lease_seconds`.

A crash between the write and the publish loses nothing: the relay finds the
pending events on its next pass. A crash after publishing but before removing
publishes an event again with the same ce_id, which consumers dedupe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from opentelemetry import context as otel_context
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from chorus.kit.envelope import new_event_id
from chorus.kit.producer import EventProducer
from chorus.kit.topics import Topic, by_name
from chorus.kit.tracing import extract_context, inject_headers

log = logging.getLogger(__name__)

OUTBOX = "outbox"
PENDING = "outbox_pending"
# Changed by every write that adds events, so that the change stream sees it
# even when the document was pending already (an unchanged field is not reported).
WRITTEN = "outbox_written_at"
LEASE = "outbox_lease"
LEASE_UNTIL = "outbox_lease_until"


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
    merged.setdefault("$set", {}).update({PENDING: True, WRITTEN: datetime.now(UTC)})
    return merged


def _published_removed(ids: list[str]) -> list[dict[str, Any]]:
    """An update pipeline: drop the published entries (never a newer one), end
    the lease and clear the pending mark when none is left, in one atomic write."""
    return [
        {"$unset": [LEASE, LEASE_UNTIL]},
        {
            "$set": {
                OUTBOX: {
                    "$filter": {
                        "input": {"$ifNull": [f"${OUTBOX}", []]},
                        "cond": {"$not": [{"$in": ["$$this.id", ids]}]},
                    }
                }
            }
        },
        {"$set": {PENDING: {"$gt": [{"$size": f"${OUTBOX}"}, 0]}}},
    ]


class OutboxRelay:
    def __init__(
        self,
        producer: EventProducer,
        collections: Sequence[AsyncCollection[dict[str, Any]]],
        *,
        idle_interval: float = 5.0,
        lease_seconds: float = 30.0,
    ) -> None:
        self._producer = producer
        self._collections = collections
        self._idle_interval = idle_interval
        self._lease_seconds = lease_seconds
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def ensure_indexes(self) -> None:
        for collection in self._collections:
            await collection.create_index([(PENDING, ASCENDING)])

    async def start(self) -> None:
        await self.ensure_indexes()
        self._tasks = [
            asyncio.create_task(self._run(), name="outbox-relay"),
            asyncio.create_task(self._watch(), name="outbox-change-stream"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drain(self) -> int:
        """Publish every pending event once; returns how many were published.
        Documents are relayed side by side; the events of one document in order;
        then one bulk write per collection removes what was published."""
        published = 0
        slots = asyncio.Semaphore(16)
        for collection in self._collections:
            pending = await self._lease(collection)

            async def relay(doc: dict[str, Any]) -> list[str]:
                async with slots:
                    return await self._publish_document(doc)

            relayed = await asyncio.gather(*(relay(doc) for doc in pending))
            marks = [
                UpdateOne({"_id": doc["_id"]}, _published_removed(ids))
                for doc, ids in zip(pending, relayed, strict=True)
            ]
            if marks:
                await collection.bulk_write(marks, ordered=False)
            published += sum(len(ids) for ids in relayed)
        return published

    async def _lease(self, collection: AsyncCollection[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to 500 pending documents no other relay holds, now held by this one."""
        now = datetime.now(UTC)
        free = {PENDING: True, "$or": [{LEASE_UNTIL: None}, {LEASE_UNTIL: {"$lt": now}}]}
        ids = [doc["_id"] async for doc in collection.find(free, {"_id": 1}).limit(500)]
        if not ids:
            return []
        token = new_event_id()
        until = now + timedelta(seconds=self._lease_seconds)
        await collection.update_many(
            {**free, "_id": {"$in": ids}}, {"$set": {LEASE: token, LEASE_UNTIL: until}}
        )
        # By _id (an index), not by the token alone (none: a collection scan).
        return [doc async for doc in collection.find({"_id": {"$in": ids}, LEASE: token})]

    async def _run(self) -> None:
        while True:
            try:
                # Events written while a pass ran wait for no poll: pass again.
                while await self.drain():
                    pass
            except Exception:
                log.exception("outbox relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_interval)
            self._wake.clear()

    async def _watch(self) -> None:
        """Wake the relay whenever a document of an outbox collection is marked pending."""
        if not self._collections:
            return
        db = self._collections[0].database
        names = [collection.name for collection in self._collections]
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "ns.coll": {"$in": names},
                    "$or": [
                        {f"updateDescription.updatedFields.{WRITTEN}": {"$exists": True}},
                        {f"updateDescription.updatedFields.{PENDING}": True},
                        {f"fullDocument.{PENDING}": True},
                    ],
                }
            },
            {"$project": {"_id": 1}},
        ]
        while True:
            try:
                async with await db.watch(pipeline) as stream:
                    self._wake.set()  # anything written before the stream opened
                    async for _change in stream:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox change stream failed (the poll covers it)", exc_info=True)
                await asyncio.sleep(self._idle_interval)

    async def _publish_document(self, doc: dict[str, Any]) -> list[str]:
        """Publish a document's pending events in order; returns the ids published
        (those before a failure: the rest stay pending for the next pass)."""
        published: list[str] = []
        for entry in doc.get(OUTBOX, []):
            try:
                topic = by_name(entry["topic"])
                message = topic.message_type.FromString(entry["payload"])
                token = otel_context.attach(extract_context(entry.get("trace", {})))
                try:
                    await self._producer.publish(
                        topic, entry["key"], message, event_id=entry["id"], time=entry["time"]
                    )
                finally:
                    otel_context.detach(token)
            except Exception:
                log.exception(
                    "outbox event not published; retrying later", extra={"id": doc["_id"]}
                )
                break
            published.append(entry["id"])
        return published
