"""Dedupe hooks: remember which event ids a consumer group has already applied.

The consumer loop asks `seen` before a handler runs and calls `remember` after
it succeeded. A handler whose effect must be exactly-once even across a crash
between its write and `remember` writes the event id together with its effect
(same document), and `seen` then only saves work.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class Deduplicator(Protocol):
    async def seen(self, group: str, event_id: str) -> bool: ...

    async def remember(self, group: str, event_id: str) -> None: ...


class MongoDeduplicator:
    COLLECTION = "processed_events"

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._collection = db[self.COLLECTION]

    async def seen(self, group: str, event_id: str) -> bool:
        return await self._collection.find_one({"_id": f"{group}:{event_id}"}) is not None

    async def remember(self, group: str, event_id: str) -> None:
        # A DuplicateKeyError means a redelivery raced us: already remembered.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {"_id": f"{group}:{event_id}", "at": datetime.now(UTC)}
            )
