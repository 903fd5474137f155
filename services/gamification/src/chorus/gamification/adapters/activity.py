"""Per-advocate activity counts: the walking skeleton's read model, to be
replaced by the faust tables of the points engine."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase


class Activity:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._activity = db["activity"]

    async def ensure_indexes(self) -> None:
        await self._activity.create_index(
            [("tenant", ASCENDING), ("advocate", ASCENDING)], unique=True
        )

    async def count(self, tenant: str, advocate: str, field: str, amount: int) -> None:
        await self._activity.update_one(
            {"tenant": tenant, "advocate": advocate}, {"$inc": {field: amount}}, upsert=True
        )

    async def of(self, tenant: str, advocate: str) -> dict[str, int]:
        doc = await self._activity.find_one({"tenant": tenant, "advocate": advocate}) or {}
        return {"shares": int(doc.get("shares", 0)), "engagement": int(doc.get("engagement", 0))}
