"""API-posted shares whose metrics engagement will poll (learned from share.performed)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chorus.contracts.common.v1.common_pb2 import Network, ShareMode
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed

FIRST_POLL_AFTER = timedelta(hours=1)


class PollTargets:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._targets = db["poll_targets"]

    async def ensure_indexes(self) -> None:
        await self._targets.create_index(
            [("tenant", ASCENDING), ("share_id", ASCENDING), ("network", ASCENDING)], unique=True
        )
        await self._targets.create_index([("next_poll_at", ASCENDING)])

    async def learn(self, share: SharePerformed) -> bool:
        """Remember an API-made post for polling; intents have no post to poll."""
        if share.mode != ShareMode.SHARE_MODE_API or not share.post_ref:
            return False
        performed_at = share.performed_at.ToDatetime(tzinfo=UTC)
        await self._targets.update_one(
            {
                "tenant": share.tenant,
                "share_id": share.share_id,
                "network": Network.Name(share.network),
            },
            {
                "$setOnInsert": {
                    "advocate": share.advocate,
                    "content_id": share.content_id,
                    "post_ref": share.post_ref,
                    "polls_done": 0,
                    "next_poll_at": performed_at + FIRST_POLL_AFTER,
                }
            },
            upsert=True,
        )
        return True

    async def for_share(self, tenant: str, share_id: str) -> list[dict[str, Any]]:
        cursor = self._targets.find({"tenant": tenant, "share_id": share_id}, {"_id": 0})
        return [doc async for doc in cursor]
