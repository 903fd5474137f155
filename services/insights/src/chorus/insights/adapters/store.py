"""MongoDB persistence of insights: pre-aggregated day buckets (one per tenant,
day, advocate, network and item), counted exactly once by event id, and the read
models the filters need (advocates and their groups, items and their tags).

Every event's effect is written in one transaction with its id in `counted`:
a redelivered event (a restart, a rebalance, a second replica) finds its id
there and adds nothing, so replaying every topic from offset 0 into an empty
database gives the same figures."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from chorus.insights.domain.activity import COUNTERS, Counted
from chorus.insights.domain.figures import Engagement, MediaRates
from chorus.insights.domain.periods import Period
from chorus.kit.mongo import Document, bulk_write_new
from chorus.kit.networks import Network
from chorus.kit.topics import advocate_key


@dataclass(frozen=True)
class Member:
    advocate: str
    enrolled: bool
    groups: tuple[str, ...]
    enrolled_at: datetime | None
    left_at: datetime | None


@dataclass(frozen=True)
class Lifecycle:
    event_id: str
    tenant: str
    advocate: str
    at: datetime
    enrolled: bool  # False: opted out
    groups: tuple[str, ...] = ()


@dataclass
class Breakdown:
    """A period's counters summed four ways."""

    by_advocate: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_content: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_network: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_day: dict[str, tuple[int, Engagement]] = field(default_factory=dict)


def _bucket_key(c: Counted) -> str:
    return "|".join((c.tenant, c.day.isoformat(), c.advocate, c.network, c.content_id))


def erased_mark(tenant: str, advocate: str) -> str:
    """What is kept of an erased advocate: a one-way digest, so that their
    events, if they come again, are known and dropped."""
    return hashlib.sha256(advocate_key(tenant, advocate).encode()).hexdigest()


def _sums(doc: Document) -> tuple[int, Engagement]:
    return int(doc.get("shares", 0)), Engagement(*(int(doc.get(name, 0)) for name in COUNTERS[1:]))


class InsightsStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.daily: AsyncCollection[Document] = db["daily"]
        self.counted: AsyncCollection[Document] = db["counted"]
        self.advocates: AsyncCollection[Document] = db["advocates"]
        self.changes: AsyncCollection[Document] = db["lifecycle_changes"]
        self.contents: AsyncCollection[Document] = db["contents"]
        self.erased: AsyncCollection[Document] = db["erased"]
        self.rates: AsyncCollection[Document] = db["media_rates"]

    async def ensure_indexes(self) -> None:
        await self.daily.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await self.daily.create_index([("tenant", ASCENDING), ("advocate", ASCENDING)])
        await self.counted.create_index([("tenant", ASCENDING), ("advocate", ASCENDING)])
        await self.advocates.create_index([("tenant", ASCENDING), ("groups", ASCENDING)])
        await self.changes.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await self.contents.create_index([("tenant", ASCENDING), ("tags", ASCENDING)])

    # Ingest ------------------------------------------------------------------
    async def add(self, counted: Sequence[Counted]) -> int:
        """Add what the events not yet counted contribute; returns how many were new."""
        gone = await self._erased_among(counted)
        live = [c for c in counted if erased_mark(c.tenant, c.advocate) not in gone]
        ids = [c.event_id for c in live]
        already = {doc["_id"] async for doc in self.counted.find({"_id": {"$in": ids}}, {"_id": 1})}
        fresh = {c.event_id: c for c in live if c.event_id not in already}
        if not fresh:
            return 0
        increments: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        dimensions: dict[str, Document] = {}
        for c in fresh.values():
            key = _bucket_key(c)
            increments[key].update(c.counters())
            dimensions[key] = {
                "tenant": c.tenant,
                "day": c.day.isoformat(),
                "advocate": c.advocate,
                "network": c.network,
                "content_id": c.content_id,
            }
        now = datetime.now(UTC)

        async def write(session: AsyncClientSession) -> None:
            # Another replica counting the same event collides on its id: the
            # transaction aborts and the chunk is retried (and finds it counted).
            await self.counted.insert_many(
                [
                    {"_id": c.event_id, "tenant": c.tenant, "advocate": c.advocate, "at": now}
                    for c in fresh.values()
                ],
                session=session,
            )
            await self.daily.bulk_write(
                [
                    UpdateOne(
                        {"_id": key},
                        {"$setOnInsert": dimensions[key], "$inc": dict(counters)},
                        upsert=True,
                    )
                    for key, counters in increments.items()
                ],
                ordered=False,
                session=session,
            )

        async with self.daily.database.client.start_session() as session:
            await session.with_transaction(write)
        # An erasure (the control consumer) may have come between the first
        # look and the commit: it writes its mark before it deletes, so either
        # its delete came after this commit, or this second look sees the mark.
        erased_meanwhile = await self._erased_among(list(fresh.values()))
        for tenant, advocate in {(c.tenant, c.advocate) for c in fresh.values()}:
            if erased_mark(tenant, advocate) in erased_meanwhile:
                await self._forget(tenant, advocate)
        return len(fresh)

    async def _erased_among(self, counted: Sequence[Counted]) -> set[str]:
        marks = list({erased_mark(c.tenant, c.advocate) for c in counted})
        return {doc["_id"] async for doc in self.erased.find({"_id": {"$in": marks}})}

    async def apply_lifecycle(self, changes: Sequence[Lifecycle]) -> None:
        """Each advocate's enrolment, newest change winning (a redelivered older
        change does not undo a newer one); opt-outs kept, anonymously, per day."""
        await bulk_write_new(
            self.advocates,
            [
                UpdateOne(
                    {
                        "_id": advocate_key(c.tenant, c.advocate),
                        "$or": [{"changed_at": {"$lte": c.at}}, {"changed_at": None}],
                    },
                    _enrolment(c),
                    upsert=True,
                )
                for c in changes
            ],
        )
        await bulk_write_new(
            self.changes,
            [
                InsertOne({"_id": c.event_id, "tenant": c.tenant, "day": c.at.date().isoformat()})
                for c in changes
                if not c.enrolled
            ],
        )

    async def erase(self, tenant: str, advocate: str) -> None:
        """Everything that names the advocate goes; a digest stays (see erased_mark)."""
        await self.erased.update_one(
            {"_id": erased_mark(tenant, advocate)}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
        )
        await self._forget(tenant, advocate)
        await self.advocates.delete_one({"_id": advocate_key(tenant, advocate)})

    async def _forget(self, tenant: str, advocate: str) -> None:
        await self.daily.delete_many({"tenant": tenant, "advocate": advocate})
        await self.counted.delete_many({"tenant": tenant, "advocate": advocate})

    async def save_content(
        self, tenant: str, content_id: str, title: str, tags: Sequence[str]
    ) -> None:
        await self.contents.update_one(
            {"_id": f"{tenant}:{content_id}"},
            {
                "$set": {"tenant": tenant, "content_id": content_id, "title": title},
                "$addToSet": {"tags": {"$each": list(tags)}},
            },
            upsert=True,
        )

    async def mark_retracted(self, tenant: str, content_id: str) -> None:
        await self.contents.update_one(
            {"_id": f"{tenant}:{content_id}"},
            {"$set": {"tenant": tenant, "content_id": content_id, "retracted": True}},
            upsert=True,
        )

    # Reading -----------------------------------------------------------------
    async def members(self, tenant: str, group: str | None = None) -> list[Member]:
        query: Document = {"tenant": tenant}
        if group is not None:
            query["groups"] = group
        return [
            Member(
                doc["advocate"],
                bool(doc.get("enrolled")),
                tuple(doc.get("groups", ())),
                doc.get("enrolled_at"),
                doc.get("left_at"),
            )
            async for doc in self.advocates.find(query)
        ]

    async def contents_tagged(self, tenant: str, tag: str) -> list[str]:
        cursor = self.contents.find({"tenant": tenant, "tags": tag}, {"content_id": 1})
        return [doc["content_id"] async for doc in cursor]

    async def titles(self, tenant: str, content_ids: Sequence[str]) -> dict[str, str]:
        cursor = self.contents.find(
            {"_id": {"$in": [f"{tenant}:{c}" for c in content_ids]}}, {"content_id": 1, "title": 1}
        )
        return {doc["content_id"]: doc.get("title", "") async for doc in cursor}

    async def opt_outs(self, tenant: str, period: Period) -> int:
        return await self.changes.count_documents(
            {
                "tenant": tenant,
                "day": {"$gte": period.start.isoformat(), "$lt": period.end.isoformat()},
            }
        )

    async def breakdown(
        self,
        tenant: str,
        period: Period,
        *,
        network: str | None = None,
        content_ids: Sequence[str] | None = None,
        advocates: Sequence[str] | None = None,
    ) -> Breakdown:
        """The period's counters by advocate, item, network and day: one
        aggregation over the day buckets."""
        match: Document = {
            "tenant": tenant,
            "day": _days(period),
        }
        if network is not None:
            match["network"] = network
        if content_ids is not None:
            match["content_id"] = {"$in": list(content_ids)}
        if advocates is not None:
            match["advocate"] = {"$in": list(advocates)}
        sums = {name: {"$sum": f"${name}"} for name in COUNTERS}
        facets = {
            name: [{"$group": {"_id": f"${dimension}", **sums}}]
            for name, dimension in (
                ("by_advocate", "advocate"),
                ("by_content", "content_id"),
                ("by_network", "network"),
                ("by_day", "day"),
            )
        }
        cursor = await self.daily.aggregate([{"$match": match}, {"$facet": facets}])
        result: dict[str, Any] = (await cursor.to_list(1))[0]
        return Breakdown(
            **{name: {doc["_id"]: _sums(doc) for doc in result[name]} for name in facets}
        )

    # Media rates ---------------------------------------------------------------
    async def media_rates(self, tenant: str) -> tuple[str, dict[str, MediaRates]] | None:
        doc = await self.rates.find_one({"_id": tenant})
        if doc is None:
            return None
        return doc["currency"], {n: MediaRates(**r) for n, r in doc["networks"].items()}

    async def set_media_rates(
        self, tenant: str, currency: str, rates: Mapping[Network, MediaRates]
    ) -> None:
        networks = {n.value: asdict(r) for n, r in rates.items()}
        await self.rates.replace_one(
            {"_id": tenant}, {"currency": currency, "networks": networks}, upsert=True
        )


def _days(period: Period) -> Document:
    """The day buckets of a period (days are ISO strings: they sort as dates)."""
    return {"$gte": period.start.isoformat(), "$lt": period.end.isoformat()}


def _enrolment(change: Lifecycle) -> Document:
    fields = {
        "tenant": change.tenant,
        "advocate": change.advocate,
        "enrolled": change.enrolled,
        "changed_at": change.at,
    }
    if change.enrolled:
        return {
            "$set": {**fields, "groups": list(change.groups), "left_at": None},
            "$min": {"enrolled_at": change.at},
        }
    return {"$set": {**fields, "left_at": change.at}}


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
