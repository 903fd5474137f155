"""MongoDB persistence of the content service. Every query names the tenant."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, InsertOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.content.adapters.documents import (
    doc_to_enrollment,
    doc_to_item,
    doc_to_program,
    enrollment_to_doc,
    item_to_doc,
    program_to_doc,
)
from chorus.content.domain.model import Enrollment, Item, Profile, Program, State
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.envelope import utc_moment
from chorus.kit.mongo import Document, bulk_write_new
from chorus.kit.networks import network_name
from chorus.kit.outbox import OUTBOX, PENDING, with_outbox
from chorus.kit.pagination import NEWEST_FIRST, after_in_newest_first
from chorus.kit.topics import advocate_key

FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


AUDIENCE_FIELDS = ("groups", "departments", "locations", "languages")


def feed_query_fields(item: Item) -> Document:
    """Stored beside the item for the feed query: when it enters and leaves
    feeds, and its audience lowercased (targeting ignores case)."""
    return {
        "feed_from": item.publish_at or item.approved_at or FOREVER,
        "feed_until": item.expires_at or FOREVER,
        "feed_audience": {
            name: [value.lower() for value in getattr(item.audience, name)]
            for name in AUDIENCE_FIELDS
        },
    }


@dataclass(frozen=True)
class FeedPosition:
    """Where a feed page ends, in feed order: highest priority, newest, then id."""

    priority: int
    published: datetime
    id: str


class ContentStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.programs: AsyncCollection[Document] = db["programs"]
        self.enrollments: AsyncCollection[Document] = db["enrollments"]
        self.items: AsyncCollection[Document] = db["items"]
        self._idempotency: AsyncCollection[Document] = db["idempotency_keys"]
        self._shares: AsyncCollection[Document] = db["shares_seen"]

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.programs, self.enrollments, self.items]

    async def ensure_indexes(self) -> None:
        await self.enrollments.create_index(
            [("tenant", ASCENDING), ("advocate", ASCENDING)], unique=True
        )
        # The list endpoint filters by tenant and at most one of state, tag or
        # author, and pages by (created_at desc, _id): one index per filter.
        newest_first = [("created_at", DESCENDING), ("_id", ASCENDING)]
        await self.items.create_index([("tenant", ASCENDING), *newest_first])
        for field in ("state", "tags", "author"):
            await self.items.create_index(
                [("tenant", ASCENDING), (field, ASCENDING), *newest_first]
            )
        # The feed: live items of the tenant for the advocate's groups, in feed order.
        await self.items.create_index(
            [
                ("tenant", ASCENDING),
                ("state", ASCENDING),
                ("feed_audience.groups", ASCENDING),
                ("priority", DESCENDING),
                ("feed_from", DESCENDING),
                ("_id", ASCENDING),
            ]
        )
        # Items written before the feed was a query lack its lowercased audience.
        await self.items.update_many(
            {"feed_audience": {"$exists": False}},
            [
                {
                    "$set": {
                        f"feed_audience.{name}": {
                            "$map": {
                                "input": {"$ifNull": [f"$audience.{name}", []]},
                                "in": {"$toLower": "$$this"},
                            }
                        }
                        for name in AUDIENCE_FIELDS
                    }
                }
            ],
        )
        await self._shares.create_index(
            [("tenant", ASCENDING), ("advocate", ASCENDING), ("performed_at", DESCENDING)]
        )

    # Programs ------------------------------------------------------------
    async def get_program(self, tenant: str) -> Program | None:
        doc = await self.programs.find_one({"_id": tenant})
        return doc_to_program(doc) if doc else None

    async def save_program(
        self, program: Program, expected_version: int, events: list[Document]
    ) -> bool:
        """Write `program` (whose version is expected_version + 1) if nobody changed it."""
        fields = program_to_doc(program)
        if expected_version == 0:
            try:
                await self.programs.insert_one(
                    {"_id": program.tenant, **fields, OUTBOX: events, PENDING: bool(events)}
                )
                return True
            except DuplicateKeyError:
                return False
        result = await self.programs.update_one(
            {"_id": program.tenant, "version": expected_version},
            with_outbox({"$set": fields}, events),
        )
        return result.matched_count == 1

    # Enrollments ---------------------------------------------------------
    async def get_enrollment(self, tenant: str, advocate: str) -> Enrollment | None:
        doc = await self.enrollments.find_one(
            {"tenant": tenant, "advocate": advocate, "erased": {"$ne": True}}
        )
        return doc_to_enrollment(doc) if doc else None

    async def save_enrollment(self, enrollment: Enrollment, events: list[Document]) -> None:
        fields = {**enrollment_to_doc(enrollment), "erased": False}
        await self.enrollments.update_one(
            {"_id": advocate_key(enrollment.tenant, enrollment.advocate)},
            with_outbox({"$set": fields}, events),
            upsert=True,
        )

    async def erase_advocate(self, tenant: str, advocate: str, events: list[Document]) -> None:
        """Delete the advocate's personal data; a tombstone carries the erasure event."""
        await self.enrollments.update_one(
            {"_id": advocate_key(tenant, advocate)},
            with_outbox(
                {
                    "$set": {
                        "tenant": tenant,
                        "advocate": advocate,
                        "erased": True,
                        "status": "opted_out",
                        "profile": {},
                        "declared_audience": {},
                        "auto_share": False,
                    }
                },
                events,
            ),
            upsert=True,
        )
        await self._shares.delete_many({"tenant": tenant, "advocate": advocate})
        # Work moments they suggested stay (the company's content) but lose their name.
        await self.items.update_many(
            {"tenant": tenant, "author": advocate}, {"$set": {"author": "erased"}}
        )

    # Items ---------------------------------------------------------------
    async def insert_item(self, item: Item, idempotency_key: str | None) -> Item:
        """Insert, or return the item an earlier request with the same key created."""
        if idempotency_key:
            key = f"{item.tenant}:{item.author}:{idempotency_key}"
            try:
                await self._idempotency.insert_one({"_id": key, "item_id": item.id})
            except DuplicateKeyError:
                previous = await self._idempotency.find_one({"_id": key})
                assert previous is not None
                existing = await self.get_item(item.tenant, previous["item_id"])
                if existing is not None:
                    return existing
                await self._idempotency.update_one({"_id": key}, {"$set": {"item_id": item.id}})
        with contextlib.suppress(DuplicateKeyError):
            await self.items.insert_one({**item_to_doc(item), **feed_query_fields(item)})
        return item

    async def get_item(self, tenant: str, item_id: str) -> Item | None:
        doc = await self.items.find_one({"_id": item_id, "tenant": tenant})
        return doc_to_item(doc) if doc else None

    async def replace_item(self, item: Item, expected_version: int, events: list[Document]) -> bool:
        """Write `item` if its stored version is still `expected_version`."""
        fields = {**item_to_doc(item), **feed_query_fields(item)}
        fields.pop("_id")
        result = await self.items.update_one(
            {"_id": item.id, "tenant": item.tenant, "version": expected_version},
            with_outbox({"$set": fields}, events),
        )
        return result.matched_count == 1

    async def list_items(
        self,
        tenant: str,
        *,
        states: Sequence[str],
        tag: str | None,
        author: str | None,
        after: Document | None,
        limit: int,
    ) -> list[Item]:
        query: Document = {"tenant": tenant}
        if states:
            query["state"] = {"$in": list(states)}
        if tag:
            query["tags"] = tag
        if author:
            query["author"] = author
        if after:
            query |= after_in_newest_first(after)
        cursor = self.items.find(query, {OUTBOX: 0, PENDING: 0}).sort(NEWEST_FIRST).limit(limit)
        return [doc_to_item(doc) async for doc in cursor]

    async def feed_page(
        self,
        tenant: str,
        profile: Profile,
        token_groups: Iterable[str],
        now: datetime,
        after: FeedPosition | None,
        limit: int,
    ) -> list[Item]:
        """Live items targeted at the advocate, in feed order, after `after`:
        the targeting rule of `chorus.kit.targeting` as a query (an empty
        audience list means everyone; case is ignored)."""

        def anyone_or(values: Iterable[str]) -> Document:
            return {"$in": [[], *sorted({value.lower() for value in values if value})]}

        query: Document = {
            "tenant": tenant,
            "state": State.APPROVED.value,
            "feed_from": {"$lte": now},
            "feed_until": {"$gt": now},
            "feed_audience.groups": anyone_or([*token_groups, *profile.groups]),
            "feed_audience.departments": anyone_or([profile.department]),
            "feed_audience.locations": anyone_or([profile.location]),
            "feed_audience.languages": anyone_or(profile.languages),
        }
        if after is not None:
            same = {"priority": after.priority}
            query["$or"] = [
                {"priority": {"$lt": after.priority}},
                {**same, "feed_from": {"$lt": after.published}},
                {**same, "feed_from": after.published, "_id": {"$gt": after.id}},
            ]
        cursor = (
            self.items.find(query, {OUTBOX: 0, PENDING: 0})
            .sort([("priority", DESCENDING), ("feed_from", DESCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [doc_to_item(doc) async for doc in cursor]

    # What advocates shared (from share.performed) --------------------------
    async def record_shares(self, shares: Sequence[SharePerformed]) -> None:
        """One unordered bulk insert; a share already there (redelivered) stays."""
        await bulk_write_new(
            self._shares,
            [
                InsertOne(
                    {
                        "_id": f"{share.tenant}:{share.share_id}:{share.network}",
                        "tenant": share.tenant,
                        "advocate": share.advocate,
                        "content_id": share.content_id,
                        "network": network_name(share.network),
                        "performed_at": utc_moment(share.performed_at),
                    }
                )
                for share in shares
            ],
        )

    async def shares_of(self, tenant: str, advocate: str) -> list[tuple[str, str, datetime]]:
        """(content id, network, performed at) of every share the advocate made."""
        cursor = self._shares.find({"tenant": tenant, "advocate": advocate})
        return [(doc["content_id"], doc["network"], doc["performed_at"]) async for doc in cursor]
