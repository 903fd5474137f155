"""Which items each advocate already shared (a read model fed by share.performed),
so the feed can mark them."""

from __future__ import annotations

from typing import Any

from chorus.contracts.common.v1.common_pb2 import Network
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase


class SharedMarks:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._marks = db["shared_marks"]

    async def ensure_indexes(self) -> None:
        await self._marks.create_index(
            [("tenant", ASCENDING), ("advocate", ASCENDING), ("content_id", ASCENDING)],
            unique=True,
        )

    async def record(self, share: SharePerformed) -> None:
        # $addToSet keeps a redelivered share from being counted twice.
        await self._marks.update_one(
            {"tenant": share.tenant, "advocate": share.advocate, "content_id": share.content_id},
            {"$addToSet": {"networks": Network.Name(share.network)}},
            upsert=True,
        )

    async def shared_items(self, tenant: str, advocate: str) -> dict[str, list[str]]:
        cursor = self._marks.find({"tenant": tenant, "advocate": advocate})
        return {doc["content_id"]: list(doc.get("networks", [])) async for doc in cursor}
