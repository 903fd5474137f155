"""The rewards catalogue, advocates' wallets and redemptions in MongoDB.

A redemption is one multi-document transaction: it reads the wallet and the
reward, then writes the wallet debit, the stock take and the redemption
record together, or nothing. Concurrent redemptions that touch the same wallet
or reward conflict and the driver retries the loser from the start, so the
balance never goes below zero and stock never below zero. The redemption
record is keyed by the advocate's idempotency key: a retry returns it.
Balances are lifetime points minus the wallet's `spent`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.kit.topics import advocate_key


class RedemptionStatus(StrEnum):
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
        self._client = db.client
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
        owner = advocate_key(tenant, advocate)
        redemption_key = f"{owner}:{key}"

        async def attempt(session: AsyncClientSession) -> dict[str, Any]:
            return await self._redeem_once(
                session, owner, redemption_key, f"{tenant}:{reward.id}", reward, earned
            )

        try:
            async with self._client.start_session() as session:
                doc = await session.with_transaction(attempt)
        except DuplicateKeyError:
            # The same key redeemed at the same moment by another request: its record wins.
            stored = await self._redemptions.find_one({"_id": redemption_key})
            if stored is None:
                raise
            doc = stored
        return _redemption(doc)

    async def _redeem_once(
        self,
        session: AsyncClientSession,
        owner: str,
        redemption_key: str,
        reward_key: str,
        reward: Reward,
        earned: int,
    ) -> dict[str, Any]:
        """One attempt inside a transaction; returns the redemption document."""
        existing = await self._redemptions.find_one({"_id": redemption_key}, session=session)
        if existing is not None:
            return existing
        wallet = await self._wallets.find_one({"_id": owner}, session=session)
        stock = await self._rewards.find_one({"_id": reward_key}, {"stock": 1}, session=session)
        spent = int(wallet["spent"]) if wallet else 0
        status, reason = RedemptionStatus.CONFIRMED, ""
        if earned - spent < reward.cost:
            status, reason = RedemptionStatus.REFUSED, "insufficient_balance"
        elif stock is None or int(stock["stock"]) < 1:
            status, reason = RedemptionStatus.REFUSED, "out_of_stock"
        else:
            await self._wallets.update_one(
                {"_id": owner},
                {"$inc": {"spent": reward.cost}, "$setOnInsert": {"owner": owner}},
                upsert=True,
                session=session,
            )
            await self._rewards.update_one(
                {"_id": reward_key}, {"$inc": {"stock": -1}}, session=session
            )
        doc = {
            "_id": redemption_key,
            "redemption_id": uuid.uuid5(uuid.NAMESPACE_URL, redemption_key).hex[:16],
            "owner": owner,
            "reward_id": reward.id,
            "cost": reward.cost,
            "status": status,
            "reason": reason,
            "created_at": datetime.now(UTC),
        }
        await self._redemptions.insert_one(doc, session=session)
        return doc
