"""MongoDB persistence of the engagement service. Lookups are by `_id` or an
index below; counters are atomic `$inc`s."""

from __future__ import annotations

import collections
import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.kit.mongo import Document, bulk_write_new
from chorus.kit.outbox import OUTBOX, PENDING, with_outbox

# The ids of counted engagement events are kept longer than any record can be
# delivered again: the topics keep a week, the dead-letter topics four.
COUNTED_IDS_KEPT_SECONDS = 29 * 24 * 3600


@dataclass(frozen=True)
class ContentLink:
    """Where an approved item links to: the only target its tracked links may have."""

    tenant: str
    content_id: str
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Count:
    """One engagement event's contribution to each of its totals."""

    event_id: str
    keys: tuple[str, ...]
    kind: str
    delta: int


@dataclass(frozen=True)
class Link:
    code: str
    tenant: str
    share_id: str
    network: str
    content_id: str
    advocate: str
    target: str
    retracted: bool = False


def _link(doc: Document) -> Link:
    return Link(
        doc["_id"],
        doc["tenant"],
        doc["share_id"],
        doc["network"],
        doc["content_id"],
        doc["advocate"],
        doc["target"],
        bool(doc.get("retracted")),
    )


class EngagementStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.links: AsyncCollection[Document] = db["links"]
        self._salts: AsyncCollection[Document] = db["visitor_salts"]
        self._visitors: AsyncCollection[Document] = db["visitors"]
        self._totals: AsyncCollection[Document] = db["totals"]
        self._counted: AsyncCollection[Document] = db["counted_events"]
        self._content: AsyncCollection[Document] = db["content_links"]
        self.poll_targets: AsyncCollection[Document] = db["poll_targets"]
        self._tenants: AsyncCollection[Document] = db["tenant_settings"]
        self.webhook_events: AsyncCollection[Document] = db["webhook_events"]

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.poll_targets, self.webhook_events]

    async def ensure_indexes(self) -> None:
        await self.links.create_index([("key", ASCENDING)], unique=True)
        await self.links.create_index([("tenant", ASCENDING), ("content_id", ASCENDING)])
        await self.poll_targets.create_index([("due", ASCENDING), ("next_poll_at", ASCENDING)])
        await self._counted.create_index("at", expireAfterSeconds=COUNTED_IDS_KEPT_SECONDS)

    # Links -----------------------------------------------------------------
    async def create_link(self, link: Link) -> Link:
        """Insert, or return the link already made for this (share, network)."""
        key = f"{link.tenant}:{link.share_id}:{link.network}"
        try:
            await self.links.insert_one(
                {
                    "_id": link.code,
                    "key": key,
                    **{
                        name: getattr(link, name)
                        for name in (
                            "tenant",
                            "share_id",
                            "network",
                            "content_id",
                            "advocate",
                            "target",
                            "retracted",
                        )
                    },
                }
            )
            return link
        except DuplicateKeyError:
            existing = await self.links.find_one({"key": key})
            if existing is None:  # the code itself collided (astronomically rare)
                raise
            return _link(existing)

    async def link(self, code: str) -> Link | None:
        doc = await self.links.find_one({"_id": code})
        return _link(doc) if doc else None

    async def link_for(self, tenant: str, share_id: str, network: str) -> Link | None:
        doc = await self.links.find_one({"key": f"{tenant}:{share_id}:{network}"})
        return _link(doc) if doc else None

    async def retract_content(self, tenant: str, content_id: str) -> int:
        await self._content.update_one(
            {"_id": f"{tenant}:{content_id}"}, {"$set": {"retracted": True}}, upsert=True
        )
        result = await self.links.update_many(
            {"tenant": tenant, "content_id": content_id}, {"$set": {"retracted": True}}
        )
        return result.modified_count

    # Content links: what a tracked link may point at ------------------------------
    async def save_content_links(self, items: Sequence[ContentLink]) -> None:
        """The link of each approved item (one bulk write). A retraction is
        final: a later or replayed approval never clears it."""
        await bulk_write_new(
            self._content,
            [
                UpdateOne(
                    {"_id": f"{item.tenant}:{item.content_id}"},
                    {
                        "$set": {"url": item.url, "expires_at": item.expires_at},
                        "$setOnInsert": {"retracted": False},
                    },
                    upsert=True,
                )
                for item in items
            ],
        )

    async def live_content_url(self, tenant: str, content_id: str, now: datetime) -> str | None:
        """The URL of the tenant's item while it is live (approved, neither
        retracted nor expired), else None."""
        doc = await self._content.find_one({"_id": f"{tenant}:{content_id}", "retracted": False})
        if doc is None or "url" not in doc:
            return None
        expires_at = doc.get("expires_at")
        return None if expires_at is not None and expires_at <= now else str(doc["url"])

    # Tenant settings ---------------------------------------------------------
    async def tenant_settings(self, tenant: str) -> Document:
        return await self._tenants.find_one({"_id": tenant}) or {}

    async def set_tenant_settings(self, tenant: str, fields: Document) -> None:
        await self._tenants.update_one({"_id": tenant}, {"$set": fields}, upsert=True)

    # Visitors: daily salts and first clicks ----------------------------------
    async def salt(self, day: date) -> bytes:
        """The salt of a UTC day, created once by whichever replica asks first."""
        with contextlib.suppress(DuplicateKeyError):
            await self._salts.insert_one({"_id": day.isoformat(), "salt": secrets.token_bytes(32)})
        doc = await self._salts.find_one({"_id": day.isoformat()})
        assert doc is not None
        # Salts older than two days are no longer needed: nothing can join hashes.
        await self._salts.delete_one({"_id": (day - timedelta(days=3)).isoformat()})
        return bytes(doc["salt"])

    async def first_click(
        self, code: str, visitors: list[str], click_id: str, at: datetime
    ) -> bool:
        """True when no click of this visitor on this link was counted unique in
        the 24 h before `at`; `visitors` are today's and yesterday's hashes.
        Replaying the same click gives the same answer."""
        today_key = f"{code}:{visitors[0]}"
        try:
            await self._visitors.insert_one({"_id": today_key, "click_id": click_id, "at": at})
        except DuplicateKeyError:
            doc = await self._visitors.find_one({"_id": today_key})
            return doc is not None and doc["click_id"] == click_id
        for earlier in visitors[1:]:
            doc = await self._visitors.find_one({"_id": f"{code}:{earlier}"})
            if doc is not None and doc["at"] > at - timedelta(hours=24):
                await self._visitors.update_one({"_id": today_key}, {"$set": {"repeat": True}})
                return False
        return True

    # Totals read model (fed by engagement.observed) ---------------------------
    async def add_to_totals(self, counts: Sequence[Count]) -> None:
        """Count each event once in each of its totals, however often it is
        delivered: the ids of the events counted and the increments are written
        in one transaction, and ids counted before are skipped (one query).
        A chunk costs four round trips whatever its size; before, each event
        was recorded inside each total it counted in, which grew every total by
        an id per event and made each update scan them."""
        ids = list({count.event_id for count in counts})
        if not ids:
            return
        cursor = self._counted.find({"_id": {"$in": ids}}, {"_id": 1})
        already = {doc["_id"] async for doc in cursor}
        fresh = {c.event_id: c for c in counts if c.event_id not in already}
        if not fresh:
            return
        increments: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        for count in fresh.values():
            for key in count.keys:
                increments[key][count.kind] += count.delta
        now = datetime.now(UTC)

        async def write(session: AsyncClientSession) -> None:
            # Another replica counting the same event (a rebalance) collides
            # on its id: the transaction aborts and the chunk is retried.
            await self._counted.insert_many(
                [{"_id": event_id, "at": now} for event_id in fresh], session=session
            )
            await self._totals.bulk_write(
                [
                    UpdateOne(
                        {"_id": key},
                        {"$inc": {f"counts.{kind}": n for kind, n in kinds.items()}},
                        upsert=True,
                    )
                    for key, kinds in increments.items()
                ],
                ordered=False,
                session=session,
            )

        async with self._totals.database.client.start_session() as session:
            await session.with_transaction(write)

    async def totals(self, key: str) -> dict[str, int]:
        doc = await self._totals.find_one({"_id": key}, {"counts": 1})
        return {k: int(v) for k, v in (doc or {}).get("counts", {}).items()}

    async def totals_of(self, keys: list[str]) -> dict[str, dict[str, int]]:
        cursor = self._totals.find({"_id": {"$in": keys}}, {"counts": 1})
        return {
            doc["_id"]: {k: int(v) for k, v in doc.get("counts", {}).items()}
            async for doc in cursor
        }

    # Poll targets ------------------------------------------------------------
    async def add_poll_targets(self, targets: Sequence[Document]) -> None:
        """One unordered bulk insert; a target already there (redelivered) stays."""
        await bulk_write_new(self.poll_targets, [InsertOne(target) for target in targets])

    async def due_poll_targets(self, now: datetime, limit: int = 100) -> list[Document]:
        cursor = (
            self.poll_targets.find({"due": True, "next_poll_at": {"$lte": now}}, {OUTBOX: 0})
            .sort("next_poll_at", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def record_poll(
        self,
        target_id: str,
        polls_done: int,
        counted: dict[str, int],
        next_poll_at: datetime | None,
        events: list[Document],
    ) -> bool:
        """Store what was counted with the delta events, unless another poller did."""
        update = {
            "$set": {
                "counted": counted,
                "polls_done": polls_done + 1,
                "next_poll_at": next_poll_at or datetime.max.replace(tzinfo=UTC),
                "due": next_poll_at is not None,
            }
        }
        result = await self.poll_targets.update_one(
            {"_id": target_id, "polls_done": polls_done}, with_outbox(update, events)
        )
        return result.matched_count == 1

    async def postpone_polls(self, target_id: str, until: datetime) -> None:
        await self.poll_targets.update_one({"_id": target_id}, {"$set": {"next_poll_at": until}})

    # Webhook events ------------------------------------------------------------
    async def record_webhook(self, doc_id: str, fields: Document, events: list[Document]) -> bool:
        """Record a sender's event once: False when its id was already recorded."""
        doc = {"_id": doc_id, **fields, OUTBOX: events, PENDING: True}
        try:
            await self.webhook_events.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False
