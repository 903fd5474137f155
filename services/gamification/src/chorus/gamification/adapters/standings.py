"""The read model the API serves: the top of each advocate's document in
`standings`, written by the engine with its state (adapters/engine_states.py).

A tenant's leaderboard spans every partition, so no single worker holds it;
the API reads MongoDB, scales apart from the workers and stays up while they
rebalance. Advocates who left keep a document (the moment they left, so late
events cannot bring points back) marked inactive, which no read returns.

An opt-out or erasure also hides the advocate at once (`withdrawn`, set by the
control consumer): the engine may be a backlog behind, and nobody may still
appear on a leaderboard they left. The engine catches up and empties the state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from chorus.gamification.adapters.engine_states import COLLECTION
from chorus.gamification.domain.periods import PeriodKind
from chorus.kit.mongo import bulk_write_new
from chorus.kit.topics import advocate_key


@dataclass(frozen=True)
class Standing:
    advocate: str
    groups: tuple[str, ...]
    lifetime: int
    periods: Mapping[str, int]
    badges: Mapping[str, str]
    share_weeks: tuple[str, ...] = ()

    def points_in(self, kind: PeriodKind, period: str) -> int:
        if kind is PeriodKind.ALL_TIME:
            return self.lifetime
        return self.periods.get(f"{kind}:{period}", 0)


# What a read may return: advocates the engine counts as members, and whom no
# departure has hidden ahead of it.
_VISIBLE = {"active": True, "withdrawn": {"$ne": True}}
# The read model only: never the engine's part of the document.
_PROJECTION = {
    "advocate": 1,
    "groups": 1,
    "lifetime": 1,
    "periods": 1,
    "badges": 1,
    "share_weeks": 1,
    # Where documents written before share_weeks joined the read model keep it.
    "engine.share_weeks": 1,
}


def _standing(doc: Mapping[str, Any]) -> Standing:
    return Standing(
        advocate=doc["advocate"],
        groups=tuple(doc.get("groups", ())),
        lifetime=int(doc.get("lifetime", 0)),
        periods=doc.get("periods", {}),
        badges=doc.get("badges", {}),
        share_weeks=tuple(doc.get("share_weeks") or doc.get("engine", {}).get("share_weeks", ())),
    )


class Standings:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], cache_seconds: float = 1.0) -> None:
        self._standings = db[COLLECTION]
        self._erasable = [db["wallets"], db["redemptions"]]
        self._closed = db["closed_periods"]
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[Standing]]] = {}
        self._loading: dict[str, asyncio.Lock] = {}

    async def ensure_indexes(self) -> None:
        await self._standings.create_index([("tenant", ASCENDING), ("active", ASCENDING)])

    async def forget(self, tenant: str, advocate: str) -> None:
        """Erase what else the service keeps of an advocate who left (their
        standing itself is the engine's state, left empty by the engine)."""
        key = advocate_key(tenant, advocate)
        for collection in self._erasable:
            await collection.delete_many({"owner": key})
        await self._closed.update_many({"tenant": tenant}, {"$pull": {"winners": advocate}})

    async def of(self, tenant: str, advocate: str) -> Standing | None:
        doc = await self._standings.find_one(
            {"_id": advocate_key(tenant, advocate), **_VISIBLE}, _PROJECTION
        )
        return _standing(doc) if doc else None

    async def rank_of(self, tenant: str, standing: Standing, kind: PeriodKind, period: str) -> int:
        """The advocate's rank on the tenant's board (leaderboard.ranked's order:
        most points first, ties by advocate id), or 0 without points. Counted
        by MongoDB: an advocate's standing must not cost loading the tenant."""
        points = standing.points_in(kind, period)
        if points <= 0:
            return 0
        field = "lifetime" if kind is PeriodKind.ALL_TIME else f"periods.{kind}:{period}"
        ahead = await self._standings.count_documents(
            {
                "tenant": tenant,
                **_VISIBLE,
                "$or": [
                    {field: {"$gt": points}},
                    {field: points, "advocate": {"$lt": standing.advocate}},
                ],
            }
        )
        return ahead + 1

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
            visible = {"tenant": tenant, **_VISIBLE}
            standings = [_standing(doc) async for doc in self._standings.find(visible, _PROJECTION)]
            self._cache[tenant] = (time.monotonic(), standings)
            return standings

    async def tenants(self) -> list[str]:
        return sorted(await self._standings.distinct("tenant", _VISIBLE))

    async def withdraw(self, changes: Mapping[tuple[str, str], bool]) -> None:
        """Hide (True) or, on re-enrolment, stop hiding (False) advocates on
        every board: one bulk write. Hiding creates the document if the engine
        has none yet (version 0: any state the engine writes is newer), so
        shares still in its backlog cannot show the advocate either."""
        await bulk_write_new(
            self._standings,
            [
                UpdateOne(
                    {"_id": advocate_key(tenant, advocate)},
                    {
                        "$set": {"withdrawn": withdrawn},
                        "$setOnInsert": {"tenant": tenant, "advocate": advocate, "version": 0},
                    },
                    upsert=withdrawn,
                )
                for (tenant, advocate), withdrawn in changes.items()
            ],
        )
        for tenant in {tenant for tenant, _ in changes}:
            self._cache.pop(tenant, None)
