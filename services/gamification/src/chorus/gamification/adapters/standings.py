"""The read model the API serves: one document per active advocate in MongoDB,
replaced with the engine's latest state after every batch.

Why MongoDB and not the faust tables: a tenant's leaderboard spans every
partition, so no single worker holds it; the API scales apart from the
workers and stays up while they rebalance. Writes are idempotent (a whole
snapshot, guarded by the state's version), so a batch the engine
processes again after a crash writes the same documents again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from chorus.gamification.domain.periods import PeriodKind
from chorus.gamification.domain.scoring import AdvocateState
from chorus.kit.mongo import bulk_write_new


@dataclass(frozen=True)
class Standing:
    advocate: str
    groups: tuple[str, ...]
    lifetime: int
    periods: Mapping[str, int]
    badges: Mapping[str, str]

    def points_in(self, kind: PeriodKind, period: str) -> int:
        if kind is PeriodKind.ALL_TIME:
            return self.lifetime
        return self.periods.get(f"{kind}:{period}", 0)


def _standing(doc: Mapping[str, Any]) -> Standing:
    return Standing(
        advocate=doc["advocate"],
        groups=tuple(doc.get("groups", ())),
        lifetime=int(doc.get("lifetime", 0)),
        periods=doc.get("periods", {}),
        badges=doc.get("badges", {}),
    )


class Standings:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], cache_seconds: float = 1.0) -> None:
        self._standings = db["standings"]
        self._erasable = [db["wallets"], db["redemptions"]]
        self._closed = db["closed_periods"]
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[Standing]]] = {}
        self._loading: dict[str, asyncio.Lock] = {}

    async def ensure_indexes(self) -> None:
        await self._standings.create_index([("tenant", ASCENDING)])

    async def write(self, states: Mapping[tuple[str, str], AdvocateState]) -> None:
        """Upsert the latest state of each advocate, all in one unordered bulk
        write (one round trip per batch, not one per advocate); advocates who
        left are erased."""
        replaces = [
            self._replace(tenant, advocate, state)
            for (tenant, advocate), state in states.items()
            if state.active
        ]
        # A newer snapshot already there (another worker got ahead after a
        # rebalance) makes its upsert collide with the _id: the newer one stays.
        await bulk_write_new(self._standings, replaces)
        for (tenant, advocate), state in states.items():
            if not state.active:
                await self._erase(tenant, advocate)

    @staticmethod
    def _replace(tenant: str, advocate: str, state: AdvocateState) -> ReplaceOne[dict[str, Any]]:
        key = f"{tenant}:{advocate}"
        doc = {
            "_id": key,
            "tenant": tenant,
            "advocate": advocate,
            "groups": state.groups,
            "lifetime": state.lifetime,
            "periods": state.periods,
            "badges": state.badges,
            "version": state.version,
        }
        return ReplaceOne({"_id": key, "version": {"$lt": state.version}}, doc, upsert=True)

    async def _erase(self, tenant: str, advocate: str) -> None:
        key = f"{tenant}:{advocate}"
        await self._standings.delete_one({"_id": key})
        for collection in self._erasable:
            await collection.delete_many({"owner": key})
        await self._closed.update_many({"tenant": tenant}, {"$pull": {"winners": advocate}})

    async def of(self, tenant: str, advocate: str) -> Standing | None:
        doc = await self._standings.find_one({"_id": f"{tenant}:{advocate}"})
        return _standing(doc) if doc else None

    async def of_tenant(self, tenant: str) -> list[Standing]:
        """Every active advocate of a tenant, cached briefly: a leaderboard is
        read far more often than it changes within a second."""
        cached = self._cache.get(tenant)
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        async with self._loading.setdefault(tenant, asyncio.Lock()):
            cached = self._cache.get(tenant)
            if cached and time.monotonic() - cached[0] < self._cache_seconds:
                return cached[1]
            projection = {"advocate": 1, "groups": 1, "lifetime": 1, "periods": 1, "badges": 1}
            standings = [
                _standing(doc) async for doc in self._standings.find({"tenant": tenant}, projection)
            ]
            self._cache[tenant] = (time.monotonic(), standings)
            return standings

    async def tenants(self) -> list[str]:
        return sorted(await self._standings.distinct("tenant"))
