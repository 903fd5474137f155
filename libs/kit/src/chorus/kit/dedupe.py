"""Dedupe hooks: remember which event ids a consumer group has already applied.

The consumer loop asks `seen` once per batch (one query for all its ids),
before any handler runs, and calls `remember` right after each handler
succeeded, so that a crash mid-batch never applies an effect twice. A handler
whose effect must be exactly-once even across a crash between its write and
`remember` writes the event id together with its effect (same document), and
`seen` then only saves work.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase

from chorus.kit.mongo import bulk_write_new


class Deduplicator(Protocol):
    async def seen(self, group: str, event_ids: Collection[str]) -> set[str]:
        """The ids among `event_ids` this group has already applied."""
        ...

    async def remember(self, group: str, event_ids: Collection[str]) -> None: ...


class MongoDeduplicator:
    COLLECTION = "processed_events"

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._collection = db[self.COLLECTION]

    async def seen(self, group: str, event_ids: Collection[str]) -> set[str]:
        if not event_ids:
            return set()
        keys = [f"{group}:{event_id}" for event_id in event_ids]
        prefix = len(group) + 1
        cursor = self._collection.find({"_id": {"$in": keys}}, {"_id": 1})
        return {doc["_id"][prefix:] async for doc in cursor}

    async def remember(self, group: str, event_ids: Collection[str]) -> None:
        # A duplicate key means a redelivery raced us: already remembered.
        now = datetime.now(UTC)
        await bulk_write_new(
            self._collection,
            [InsertOne({"_id": f"{group}:{event_id}", "at": now}) for event_id in event_ids],
        )
