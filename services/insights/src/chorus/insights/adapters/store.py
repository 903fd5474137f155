"""MongoDB persistence of insights: pre-aggregated day buckets (one per tenant,
day, advocate, network and item), counted exactly once by event id, and the read
models the filters need (advocates and their groups, items and their tags),
and each advocate's audiences (declared, and as the platforms report them);
and the rollups an unfiltered month or quarter is read from (adapters/rollups.py).

Every event's effect (day bucket and rollups) is written in one transaction
with its id in `counted`:
a redelivered event (a restart, a rebalance, a second replica) finds its id
there and adds nothing, so replaying every topic from offset 0 into an empty
database gives the same figures."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.insights.adapters.rollups import (
    RollupScope,
    Totals,
    advocate_rollup_id,
    audience_sums,
    days_scope,
    points_rollup_updates,
    reach_by_source,
    rollup_homes,
    rollup_updates,
    scoped,
    shared_marks,
    sums,
)
from chorus.insights.domain.activity import COUNTERS, Awarded, Counted
from chorus.insights.domain.figures import ENGAGEMENT_COUNTERS, Engagement, MediaRates
from chorus.insights.domain.periods import Period, PeriodKind
from chorus.insights.domain.reach import Audiences, AudienceSums
from chorus.kit.calendar import utc_day
from chorus.kit.mongo import Document, bulk_write_new
from chorus.kit.networks import Network
from chorus.kit.topics import advocate_key


@dataclass(frozen=True)
class Lifecycle:
    event_id: str
    tenant: str
    advocate: str
    at: datetime
    enrolled: bool  # False: opted out
    groups: tuple[str, ...] = ()
    declared_audience: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasuredAudience:
    """An audience size a platform reported for an advocate's account."""

    tenant: str
    advocate: str
    network: str
    size: int


@dataclass(frozen=True)
class Item:
    tenant: str
    content_id: str
    title: str
    tags: tuple[str, ...] = ()
    retracted: bool = False


@dataclass
class Breakdown:
    """A period's counters summed four ways, and who shared to which network."""

    by_advocate: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_content: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_network: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    by_day: dict[str, tuple[int, Engagement]] = field(default_factory=dict)
    sharers: list[tuple[str, str]] = field(default_factory=list)  # (advocate, network)


@dataclass(frozen=True)
class RankedAdvocates:
    """A period's advocates: each one's engagement total, how many shared, and
    the head of their ranking (most engagement, then most shares)."""

    totals: list[int]
    active: int
    ranked: list[tuple[str, int, Engagement]]


def _bucket_key(c: Counted) -> str:
    return "|".join((c.tenant, c.day.isoformat(), c.advocate, c.network, c.content_id))


class _Attributed(Protocol):
    """An event counted once by its id, for one advocate of one tenant."""

    @property
    def event_id(self) -> str: ...

    @property
    def tenant(self) -> str: ...

    @property
    def advocate(self) -> str: ...


_Event = TypeVar("_Event", bound=_Attributed)


# What a chunk of events writes: the updates of each collection it touches.
Effects = list[tuple[AsyncCollection[Document], list[UpdateOne]]]


def _day_bucket_updates(counted: Iterable[Counted]) -> list[UpdateOne]:
    increments: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    dimensions: dict[str, Document] = {}
    for c in counted:
        key = _bucket_key(c)
        increments[key].update(c.counters())
        dimensions[key] = {
            "tenant": c.tenant,
            "day": c.day.isoformat(),
            "advocate": c.advocate,
            "network": c.network,
            "content_id": c.content_id,
        }
    return [
        UpdateOne(
            {"_id": key}, {"$setOnInsert": dimensions[key], "$inc": dict(counters)}, upsert=True
        )
        for key, counters in increments.items()
    ]


def _points_updates(awarded: Iterable[Awarded]) -> list[UpdateOne]:
    points: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for a in awarded:
        points[a.tenant, a.day.isoformat(), a.advocate] += a.points
    return [
        UpdateOne(
            {"_id": "|".join(key)},
            {
                "$setOnInsert": dict(zip(("tenant", "day", "advocate"), key, strict=True)),
                "$inc": {"points": total},
            },
            upsert=True,
        )
        for key, total in points.items()
    ]


def erased_mark(tenant: str, advocate: str) -> str:
    """What is kept of an erased advocate: a one-way digest, so that their
    events, if they come again, are known and dropped."""
    return hashlib.sha256(advocate_key(tenant, advocate).encode()).hexdigest()


class InsightsStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.daily: AsyncCollection[Document] = db["daily"]
        self.counted: AsyncCollection[Document] = db["counted"]
        self.advocates: AsyncCollection[Document] = db["advocates"]
        self.changes: AsyncCollection[Document] = db["lifecycle_changes"]
        self.contents: AsyncCollection[Document] = db["contents"]
        self.erased: AsyncCollection[Document] = db["erased"]
        self.rates: AsyncCollection[Document] = db["media_rates"]
        self.points: AsyncCollection[Document] = db["points_daily"]
        self.rollups: AsyncCollection[Document] = db["rollups"]
        self.meta: AsyncCollection[Document] = db["meta"]
        self._rollups_since: dict[str, date] = {}

    async def start_rollups(self) -> None:
        """Marks the first day each kind of rollup holds whole: every day for a
        new database; for one that already has day buckets (an upgrade from a
        version without that kind) the day after this first start, so periods
        that begin before it are read from the buckets. Weeks came after
        months and quarters, so they have a mark of their own."""
        upgraded = await self.daily.find_one({}, {"_id": 1}) is not None
        since = utc_day(datetime.now(UTC)) + timedelta(days=1) if upgraded else date.min
        for mark in (_ROLLUPS, _WEEK_ROLLUPS):
            if await self.meta.find_one({"_id": mark}) is None:
                with contextlib.suppress(DuplicateKeyError):  # another replica marked it first
                    await self.meta.insert_one({"_id": mark, "since": since.isoformat()})

    async def rollups_since(self, kind: PeriodKind | None = None) -> date:
        """The first day the rollups of a kind of period hold (see
        start_rollups; no kind: the day rollups, with months' and quarters');
        it never changes."""
        mark = _WEEK_ROLLUPS if kind is PeriodKind.WEEK else _ROLLUPS
        if mark not in self._rollups_since:
            found = await self.meta.find_one({"_id": mark})
            if found is None:  # not started yet: trust only the buckets
                return date.max
            self._rollups_since[mark] = date.fromisoformat(found["since"])
        return self._rollups_since[mark]

    async def ensure_indexes(self) -> None:
        await self.daily.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await self.daily.create_index([("tenant", ASCENDING), ("advocate", ASCENDING)])
        await self.counted.create_index([("tenant", ASCENDING), ("advocate", ASCENDING)])
        await self.points.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await self.points.create_index([("tenant", ASCENDING), ("advocate", ASCENDING)])
        await self.advocates.create_index([("tenant", ASCENDING), ("groups", ASCENDING)])
        await self.advocates.create_index([("tenant", ASCENDING), ("enrolled", ASCENDING)])
        await self.changes.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await self.contents.create_index([("tenant", ASCENDING), ("tags", ASCENDING)])

    # Ingest ------------------------------------------------------------------
    async def add(self, counted: Sequence[Counted]) -> int:
        """Add what the events not yet counted contribute to the day buckets;
        returns how many were new."""
        return await self._count_once(
            counted,
            lambda fresh: [
                (self.daily, _day_bucket_updates(fresh)),
                (self.rollups, rollup_updates(fresh)),
                (self.advocates, shared_marks(fresh)),
            ],
        )

    async def add_points(self, awarded: Sequence[Awarded]) -> int:
        """Add the points not yet counted to each advocate's day; returns how many were new."""
        return await self._count_once(
            awarded,
            lambda fresh: [
                (self.points, _points_updates(fresh)),
                (self.rollups, points_rollup_updates(fresh)),
            ],
        )

    async def _count_once(
        self,
        items: Sequence[_Event],
        effects_of: Callable[[Sequence[_Event]], Effects],
    ) -> int:
        """Write the effects of the events not yet counted, with their ids, in
        one transaction; an erased advocate's events are dropped."""
        marks = {who: erased_mark(*who) for who in {(c.tenant, c.advocate) for c in items}}
        gone = await self._erased_among(marks.values())
        live = [c for c in items if marks[c.tenant, c.advocate] not in gone]
        ids = [c.event_id for c in live]
        already = {doc["_id"] async for doc in self.counted.find({"_id": {"$in": ids}}, {"_id": 1})}
        fresh = {c.event_id: c for c in live if c.event_id not in already}
        if not fresh:
            return 0
        now = datetime.now(UTC)
        effects = effects_of(list(fresh.values()))

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
            for collection, updates in effects:
                if updates:
                    await collection.bulk_write(updates, ordered=False, session=session)

        async with self.daily.database.client.start_session() as session:
            await session.with_transaction(write)
        # An erasure (the control consumer) may have come between the first
        # look and the commit: it writes its mark before it deletes, so either
        # its delete came after this commit, or this second look sees the mark.
        counted_for = {who: mark for who, mark in marks.items() if mark not in gone}
        erased_meanwhile = await self._erased_among(counted_for.values())
        for (tenant, advocate), mark in counted_for.items():
            if mark in erased_meanwhile:
                await self._forget(tenant, advocate)
        return len(fresh)

    async def _erased_among(self, marks: Iterable[str]) -> set[str]:
        cursor = self.erased.find({"_id": {"$in": list(marks)}})
        return {doc["_id"] async for doc in cursor}

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

    async def save_measured_audiences(self, measured: Sequence[MeasuredAudience]) -> None:
        """The platforms' latest word on each account's audience (in topic order,
        so the last one wins on a replay too)."""
        if not measured:
            return
        await self.advocates.bulk_write(
            [
                UpdateOne(
                    {"_id": advocate_key(m.tenant, m.advocate)},
                    {
                        "$set": {
                            "tenant": m.tenant,
                            "advocate": m.advocate,
                            f"platform_audience.{m.network}": m.size,
                        }
                    },
                    upsert=True,
                )
                for m in measured
            ]
        )
        # An erasure may have come meanwhile; it writes its mark before it
        # deletes, so this look after the write catches what it missed.
        marks = {erased_mark(m.tenant, m.advocate): m for m in measured}
        for mark in await self._erased_among(marks):
            await self.advocates.delete_one(
                {"_id": advocate_key(marks[mark].tenant, marks[mark].advocate)}
            )

    async def erase(self, tenant: str, advocate: str) -> None:
        """Everything that names the advocate goes; a digest stays (see erased_mark)."""
        await self.erased.update_one(
            {"_id": erased_mark(tenant, advocate)}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
        )
        await self._forget(tenant, advocate)

    async def _forget(self, tenant: str, advocate: str) -> None:
        """The advocate's enrolment, activity and points go in one transaction,
        so no report sees them enrolled without their activity, or the reverse;
        what their activity added to the item and day rollups is taken back in
        it (read in its snapshot: an ingest writing a bucket meanwhile collides
        with the delete, and one of the two is retried)."""
        whose = {"tenant": tenant, "advocate": advocate}

        async def delete(session: AsyncClientSession) -> None:
            buckets = await self.daily.find(whose, session=session).to_list(None)
            points = await self.points.find(whose, session=session).to_list(None)
            taken_back = rollup_updates(map(_taken_back, buckets), per_advocate=False)
            taken_back += points_rollup_updates(map(_points_taken_back, points))
            if taken_back:
                await self.rollups.bulk_write(taken_back, ordered=False, session=session)
            homes = {h for b in buckets for h in rollup_homes(date.fromisoformat(b["day"]))}
            rolled_up = [advocate_rollup_id(tenant, home, advocate) for home in homes]
            await self.rollups.delete_many({"_id": {"$in": rolled_up}}, session=session)
            await self.advocates.delete_one(
                {"_id": advocate_key(tenant, advocate)}, session=session
            )
            await self.daily.delete_many(whose, session=session)
            await self.points.delete_many(whose, session=session)

        async with self.daily.database.client.start_session() as session:
            await session.with_transaction(delete)
        await self.counted.delete_many(whose)

    async def save_contents(self, items: Sequence[Item]) -> None:
        """Each item's title and tags as its latest approval gave them (a
        retraction, read by the control consumer, may have come first: kept)."""
        await self.contents.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{item.tenant}:{item.content_id}"},
                    {
                        "$set": {
                            "tenant": item.tenant,
                            "content_id": item.content_id,
                            "title": item.title,
                            "tags": list(item.tags),
                        }
                    },
                    upsert=True,
                )
                for item in items
            ]
        )

    async def mark_retracted(self, tenant: str, content_id: str) -> None:
        await self.contents.update_one(
            {"_id": f"{tenant}:{content_id}"},
            {"$set": {"tenant": tenant, "content_id": content_id, "retracted": True}},
            upsert=True,
        )

    # Reading -----------------------------------------------------------------
    async def enrolled_during(self, tenant: str, period: Period, group: str | None) -> int:
        """Advocates enrolled at some moment of the period (a re-enrolment
        counts from the first)."""
        query: Document = {
            "tenant": tenant,
            "enrolled_at": {"$lt": _midnight(period.end)},
            "$or": [{"left_at": None}, {"left_at": {"$gte": _midnight(period.start)}}],
        }
        if group is not None:
            query["groups"] = group
        return await self.advocates.count_documents(query)

    async def group_members(self, tenant: str, group: str) -> list[str]:
        cursor = self.advocates.find({"tenant": tenant, "groups": group}, {"advocate": 1})
        return [doc["advocate"] async for doc in cursor]

    async def opted_out(self, tenant: str) -> set[str]:
        """Advocates who left: never named in a ranking."""
        cursor = self.advocates.find({"tenant": tenant, "enrolled": False}, {"advocate": 1})
        return {doc["advocate"] async for doc in cursor}

    async def contents_tagged(self, tenant: str, tag: str) -> list[str]:
        cursor = self.contents.find({"tenant": tenant, "tags": tag}, {"content_id": 1})
        return [doc["content_id"] async for doc in cursor]

    async def items(self, tenant: str, content_ids: Sequence[str]) -> dict[str, Item]:
        """The items known of those ids, with their titles and whether they were withdrawn."""
        cursor = self.contents.find({"_id": {"$in": [f"{tenant}:{c}" for c in content_ids]}})
        return {
            doc["content_id"]: Item(
                tenant,
                doc["content_id"],
                doc.get("title", ""),
                tuple(doc.get("tags", ())),
                bool(doc.get("retracted")),
            )
            async for doc in cursor
        }

    async def audiences(self, tenant: str, advocates: Iterable[str]) -> dict[str, Audiences]:
        cursor = self.advocates.find(
            {"_id": {"$in": [advocate_key(tenant, a) for a in advocates]}},
            {"advocate": 1, "platform_audience": 1, "declared_audience": 1},
        )
        return {
            doc["advocate"]: Audiences(
                doc.get("platform_audience", {}), doc.get("declared_audience", {})
            )
            async for doc in cursor
        }

    async def points_awarded(
        self,
        tenant: str,
        period: Period,
        advocates: Sequence[str] | None = None,
        *,
        rolled_up: bool = False,
    ) -> int:
        """The points of the period: the tenant's from the day rollups when
        they hold the period, else from every advocate's days."""
        if advocates is None and rolled_up:
            days = self.rollups.find(days_scope(tenant, period), {"points": 1})
            return sum([int(doc.get("points", 0)) async for doc in days])
        match: Document = {"tenant": tenant, "day": _days(period)}
        if advocates is not None:
            match["advocate"] = {"$in": list(advocates)}
        cursor = await self.points.aggregate(
            [{"$match": match}, {"$group": {"_id": None, "points": {"$sum": "$points"}}}]
        )
        found = await cursor.to_list(1)
        return int(found[0]["points"]) if found else 0

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
        summed = {name: {"$sum": f"${name}"} for name in COUNTERS}
        facets = {
            name: [{"$group": {"_id": f"${dimension}", **summed}}]
            for name, dimension in (
                ("by_advocate", "advocate"),
                ("by_content", "content_id"),
                ("by_network", "network"),
                ("by_day", "day"),
            )
        }
        sharers = [
            {"$match": {"shares": {"$gt": 0}}},
            {"$group": {"_id": {"advocate": "$advocate", "network": "$network"}}},
        ]
        cursor = await self.daily.aggregate(
            [{"$match": match}, {"$facet": {**facets, "sharers": sharers}}]
        )
        result: dict[str, Any] = (await cursor.to_list(1))[0]
        return Breakdown(
            **{name: {doc["_id"]: sums(doc) for doc in result[name]} for name in facets},
            sharers=[(doc["_id"]["advocate"], doc["_id"]["network"]) for doc in result["sharers"]],
        )

    async def rolled_up(self, tenant: str, period: Period) -> Breakdown:
        """An unfiltered week's, month's or quarter's items, networks and days, from
        their rollups (advocates: ranked_advocates, reach: audience_sums)."""
        scope = RollupScope(tenant, period, "c")
        items, days = await asyncio.gather(
            self.rollups.find(scope.query, {scope.field: 1}).to_list(None),
            self.rollups.find(days_scope(tenant, period), {"n": 1}).to_list(None),
        )
        networks = [(n, c) for doc in days for n, c in doc.get("n", {}).items()]
        day_totals = [
            (doc["_id"].rsplit("|", 2)[1], c) for doc in days for c in doc.get("n", {}).values()
        ]
        return Breakdown(
            by_content=Totals.of(
                (scope.subject(doc["_id"]), scoped(doc, scope.field)) for doc in items
            ).rows,
            by_network=Totals.of(networks).rows,
            by_day=Totals.of(day_totals).rows,
        )

    async def ranked_advocates(
        self, tenant: str, period: Period, *, hidden: Iterable[str], limit: int
    ) -> RankedAdvocates:
        """A week's, a month's or a quarter's advocates, from their rollups, summed and
        ranked by MongoDB: only the ranking's head comes back whole."""
        scope = RollupScope(tenant, period, "a")
        counters = f"${scope.field}"
        total = {"$add": [{"$ifNull": [f"{counters}.{name}", 0]} for name in ENGAGEMENT_COUNTERS]}
        shares = {"$ifNull": [f"{counters}.shares", 0]}
        not_hidden = [scope.rollup_id(who) for who in hidden]
        cursor = await self.rollups.aggregate(
            [
                {"$match": scope.query},
                {"$project": {"counted": counters, "total": total, "shares": shares}},
                {
                    "$facet": {
                        "all": [
                            {
                                "$group": {
                                    "_id": None,
                                    "totals": {"$push": "$total"},
                                    "active": {"$sum": {"$cond": [{"$gt": ["$shares", 0]}, 1, 0]}},
                                }
                            }
                        ],
                        "head": [
                            {"$match": {"_id": {"$nin": not_hidden}}},
                            {"$sort": {"total": -1, "shares": -1, "_id": 1}},
                            {"$limit": max(limit, 1)},
                        ],
                    }
                },
            ]
        )
        found: Document = (await cursor.to_list(1))[0]
        summed: Document = found["all"][0] if found["all"] else {"totals": [], "active": 0}
        head = [(scope.subject(doc["_id"]), *sums(doc["counted"])) for doc in found["head"]]
        return RankedAdvocates(summed["totals"], summed["active"], head[:limit])

    async def audience_sums(self, tenant: str, period: Period) -> dict[str, AudienceSums]:
        """The audiences of a week's, a month's or a quarter's sharers, by network and source."""
        cursor = await self.advocates.aggregate(reach_by_source(tenant, period))
        found = await cursor.to_list(1)
        return audience_sums(found[0] if found else None)

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


_ROLLUPS = "rollups"
_WEEK_ROLLUPS = "week_rollups"


def _taken_back(bucket: Document) -> Counted:
    """What an erased advocate's day bucket had added, negated."""
    negated = {name: -int(bucket.get(name, 0)) for name in COUNTERS}
    return Counted(
        "",
        bucket["tenant"],
        bucket["advocate"],
        date.fromisoformat(bucket["day"]),
        bucket["network"],
        bucket["content_id"],
        negated.pop("shares"),
        Engagement(**negated),
    )


def _points_taken_back(day: Document) -> Awarded:
    return Awarded(
        "", day["tenant"], day["advocate"], date.fromisoformat(day["day"]), -day["points"]
    )


def _days(period: Period) -> Document:
    """The day buckets of a period (days are ISO strings: they sort as dates)."""
    return {"$gte": period.start.isoformat(), "$lt": period.end.isoformat()}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _enrolment(change: Lifecycle) -> Document:
    fields = {
        "tenant": change.tenant,
        "advocate": change.advocate,
        "enrolled": change.enrolled,
        "changed_at": change.at,
    }
    if change.enrolled:
        return {
            "$set": {
                **fields,
                "groups": list(change.groups),
                "declared_audience": dict(change.declared_audience),
                "left_at": None,
            },
            "$min": {"enrolled_at": change.at},
        }
    return {"$set": {**fields, "left_at": change.at}}
