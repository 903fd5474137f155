"""The rewards catalogue, advocates' wallets and redemptions in MongoDB.

A redemption is a document keyed by the advocate's idempotency key, then two
guarded single-document writes that each record the redemption id they
applied: the wallet debit (only if the balance covers it) and the stock
take (only if a unit is left). Retrying the same key resumes where it
stopped and never applies a step twice; a debit whose stock take fails is
refunded. Balances are lifetime points minus the wallet's `spent`.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class RedemptionStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Reward:
    id: str
    name: str
    description: str
    cost: int
    stock: int


@dataclass(frozen=True)
class Redemption:
    id: str
    reward_id: str
    cost: int
    status: RedemptionStatus
    reason: str
    created_at: datetime


def _reward(doc: dict[str, Any]) -> Reward:
    return Reward(doc["reward_id"], doc["name"], doc["description"], doc["cost"], doc["stock"])


def _redemption(doc: dict[str, Any]) -> Redemption:
    return Redemption(
        doc["redemption_id"],
        doc["reward_id"],
        doc["cost"],
        RedemptionStatus(doc["status"]),
        doc.get("reason", ""),
        doc["created_at"].replace(tzinfo=UTC),
    )


class Rewards:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._rewards = db["rewards"]
        self._wallets = db["wallets"]
        self._redemptions = db["redemptions"]

    async def ensure_indexes(self) -> None:
        await self._rewards.create_index([("tenant", ASCENDING)])
        await self._redemptions.create_index([("owner", ASCENDING)])

    async def create(
        self, tenant: str, name: str, description: str, cost: int, stock: int
    ) -> Reward:
        reward_id = uuid.uuid4().hex[:12]
        doc = {
            "_id": f"{tenant}:{reward_id}",
            "tenant": tenant,
            "reward_id": reward_id,
            "name": name,
            "description": description,
            "cost": cost,
            "stock": stock,
            "taken_by": [],
        }
        await self._rewards.insert_one(doc)
        return _reward(doc)

    async def catalogue(self, tenant: str) -> list[Reward]:
        docs = [doc async for doc in self._rewards.find({"tenant": tenant})]
        return sorted((_reward(doc) for doc in docs), key=lambda r: (r.cost, r.name))

    async def get(self, tenant: str, reward_id: str) -> Reward | None:
        doc = await self._rewards.find_one({"_id": f"{tenant}:{reward_id}"})
        return _reward(doc) if doc else None

    async def spent(self, owner: str) -> int:
        wallet = await self._wallets.find_one({"_id": owner})
        return int(wallet["spent"]) if wallet else 0

    async def redemptions(self, owner: str) -> list[Redemption]:
        docs = [doc async for doc in self._redemptions.find({"owner": owner})]
        return sorted((_redemption(doc) for doc in docs), key=lambda r: r.created_at)

    async def redeem(
        self, tenant: str, advocate: str, reward: Reward, key: str, earned: int
    ) -> Redemption:
        """`earned`: the advocate's lifetime points now."""
        owner = f"{tenant}:{advocate}"
        redemption_id = f"{owner}:{key}"
        with contextlib.suppress(DuplicateKeyError):
            await self._redemptions.insert_one(
                {
                    "_id": redemption_id,
                    "redemption_id": uuid.uuid5(uuid.NAMESPACE_URL, redemption_id).hex[:16],
                    "owner": owner,
                    "reward_id": reward.id,
                    "cost": reward.cost,
                    "status": RedemptionStatus.PENDING,
                    "created_at": datetime.now(UTC),
                }
            )
        doc = await self._redemptions.find_one({"_id": redemption_id})
        assert doc is not None
        if doc["status"] != RedemptionStatus.PENDING:
            return _redemption(doc)
        cost = int(doc["cost"])
        if not await self._debit(owner, redemption_id, cost, earned):
            return await self._finish(
                redemption_id, RedemptionStatus.REFUSED, "insufficient_balance"
            )
        if not await self._take_stock(f"{tenant}:{reward.id}", redemption_id):
            await self._wallets.update_one(
                {"_id": owner, "redemptions": redemption_id},
                {"$inc": {"spent": -cost}, "$pull": {"redemptions": redemption_id}},
            )
            return await self._finish(redemption_id, RedemptionStatus.REFUSED, "out_of_stock")
        return await self._finish(redemption_id, RedemptionStatus.CONFIRMED, "")

    async def _debit(self, owner: str, redemption_id: str, cost: int, earned: int) -> bool:
        wallet = await self._wallets.find_one({"_id": owner})
        if wallet and redemption_id in wallet.get("redemptions", []):
            return True
        if wallet is None:
            with contextlib.suppress(DuplicateKeyError):
                await self._wallets.insert_one(
                    {"_id": owner, "owner": owner, "spent": 0, "redemptions": []}
                )
        debited = await self._wallets.find_one_and_update(
            {"_id": owner, "spent": {"$lte": earned - cost}, "redemptions": {"$ne": redemption_id}},
            {"$inc": {"spent": cost}, "$push": {"redemptions": redemption_id}},
            return_document=ReturnDocument.AFTER,
        )
        return debited is not None

    async def _take_stock(self, reward_key: str, redemption_id: str) -> bool:
        doc = await self._rewards.find_one({"_id": reward_key})
        if doc and redemption_id in doc.get("taken_by", []):
            return True
        taken = await self._rewards.find_one_and_update(
            {"_id": reward_key, "stock": {"$gte": 1}, "taken_by": {"$ne": redemption_id}},
            {"$inc": {"stock": -1}, "$push": {"taken_by": redemption_id}},
        )
        return taken is not None

    async def _finish(
        self, redemption_id: str, status: RedemptionStatus, reason: str
    ) -> Redemption:
        doc = await self._redemptions.find_one_and_update(
            {"_id": redemption_id},
            {"$set": {"status": status, "reason": reason}},
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return _redemption(doc)
