"""Distribution's own copy of approved content, fed by content.approved and
content.retracted (event-carried state: sharing never calls the content service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chorus.contracts.content.v1.events_pb2 import ContentApproved


class ContentCopies:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._items = db["content_copies"]

    async def ensure_indexes(self) -> None:
        await self._items.create_index(
            [("tenant", ASCENDING), ("content_id", ASCENDING)], unique=True
        )

    async def save_approved(self, item: ContentApproved, event_time: datetime) -> None:
        # Approvals of one item share a key, hence a partition: they arrive in
        # order, and a redelivered batch replays in order too, so a plain upsert
        # converges. Retraction (consumed apart, often first) is final: an
        # approval, replayed or late, never clears it.
        await self._items.update_one(
            {"tenant": item.tenant, "content_id": item.content_id},
            {
                "$set": {"approved": item.SerializeToString(), "approved_event_time": event_time},
                "$setOnInsert": {"retracted": False},
            },
            upsert=True,
        )

    async def mark_retracted(self, tenant: str, content_id: str, event_time: datetime) -> None:
        await self._items.update_one(
            {"tenant": tenant, "content_id": content_id},
            {"$set": {"retracted": True, "retracted_at": event_time}},
            upsert=True,
        )

    async def get(self, tenant: str, content_id: str) -> tuple[ContentApproved, bool] | None:
        doc = await self._items.find_one({"tenant": tenant, "content_id": content_id})
        if doc is None or "approved" not in doc:
            return None
        return ContentApproved.FromString(doc["approved"]), bool(doc.get("retracted"))

    async def titles(self, tenant: str, content_ids: list[str]) -> dict[str, str]:
        """Each known item's title (one query for a page of shares)."""
        cursor = self._items.find(
            {"tenant": tenant, "content_id": {"$in": content_ids}}, {"content_id": 1, "approved": 1}
        )
        return {
            doc["content_id"]: ContentApproved.FromString(doc["approved"]).title
            async for doc in cursor
            if "approved" in doc
        }
