"""MongoDB persistence of distribution (besides the content copies). Every
lookup is served by `_id` or an index below; every transition is a
compare-and-set on the expected status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.distribution.adapters.documents import (
    doc_to_member,
    doc_to_rules,
    doc_to_share,
    member_to_doc,
    rules_to_doc,
    share_to_doc,
)
from chorus.distribution.domain.model import Member, Mode, NetworkShare, PostingRules, Share
from chorus.distribution.domain.sharing import Status, require_move
from chorus.kit.mongo import Document, bulk_write_new
from chorus.kit.networks import Network
from chorus.kit.outbox import OUTBOX, PENDING, with_outbox
from chorus.kit.pagination import NEWEST_FIRST, after_in_newest_first
from chorus.kit.topics import advocate_key

NETWORK_SHARE_FIELDS = frozenset(f.name for f in fields(NetworkShare)) - {"status"}


class DistributionStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.advocates: AsyncCollection[Document] = db["advocates"]
        self.programs: AsyncCollection[Document] = db["programs"]
        self.settings: AsyncCollection[Document] = db["tenant_settings"]
        self.oauth_states: AsyncCollection[Document] = db["oauth_states"]
        self.accounts: AsyncCollection[Document] = db["accounts"]
        self.shares: AsyncCollection[Document] = db["shares"]
        self._idempotency: AsyncCollection[Document] = db["idempotency_keys"]

    @property
    def outbox_collections(self) -> list[AsyncCollection[Document]]:
        return [self.accounts, self.shares]

    async def ensure_indexes(self) -> None:
        await self.advocates.create_index([("tenant", ASCENDING), ("auto_share", ASCENDING)])
        # Serves an advocate's shares (eligibility) and their history, newest first.
        await self.shares.create_index(
            [("tenant", ASCENDING), ("advocate", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.shares.create_index([("tenant", ASCENDING), ("content_id", ASCENDING)])
        await self.shares.create_index([("scheduled", ASCENDING)])

    # Read models from content's events -------------------------------------------
    async def save_advocates(self, advocates: Mapping[tuple[str, str], Member]) -> None:
        """One unordered bulk upsert: each advocate once."""
        await bulk_write_new(
            self.advocates,
            [
                UpdateOne(
                    {"_id": advocate_key(tenant, advocate)},
                    {"$set": {"tenant": tenant, "advocate": advocate, **member_to_doc(member)}},
                    upsert=True,
                )
                for (tenant, advocate), member in advocates.items()
            ],
        )

    async def erase_advocates(self, advocates: Sequence[tuple[str, str]]) -> None:
        if not advocates:
            return
        await self.advocates.delete_many({"_id": {"$in": [f"{t}:{a}" for t, a in advocates]}})
        await self.accounts.delete_many(
            {"$or": [{"tenant": tenant, "advocate": advocate} for tenant, advocate in advocates]}
        )

    async def advocate(self, tenant: str, advocate: str) -> Member | None:
        doc = await self.advocates.find_one({"_id": advocate_key(tenant, advocate)})
        return doc_to_member(doc) if doc else None

    async def auto_sharers(self, tenant: str) -> list[tuple[str, Member]]:
        """The enrolled advocates who asked for auto-sharing: (advocate, member)."""
        cursor = self.advocates.find({"tenant": tenant, "auto_share": True, "enrolled": True})
        return [(doc["advocate"], doc_to_member(doc)) async for doc in cursor]

    async def save_program(self, tenant: str, rules: PostingRules) -> None:
        await self.programs.update_one({"_id": tenant}, {"$set": rules_to_doc(rules)}, upsert=True)

    async def program(self, tenant: str) -> PostingRules:
        return doc_to_rules(await self.programs.find_one({"_id": tenant}))

    async def x_mode(self, tenant: str) -> Mode:
        doc = await self.settings.find_one({"_id": tenant})
        return Mode((doc or {}).get("x_mode", Mode.API))

    async def set_x_mode(self, tenant: str, mode: Mode) -> None:
        await self.settings.update_one(
            {"_id": tenant}, {"$set": {"x_mode": mode.value}}, upsert=True
        )

    # OAuth and accounts ----------------------------------------------------------
    async def save_oauth_state(self, state: str, fields: Document) -> None:
        await self.oauth_states.insert_one({"_id": state, **fields})

    async def take_oauth_state(self, state: str) -> Document | None:
        """A state is good for one callback only."""
        return await self.oauth_states.find_one_and_delete({"_id": state})

    async def save_account(self, key: str, fields: Document, events: list[Document]) -> None:
        await self.accounts.update_one(
            {"_id": key}, with_outbox({"$set": fields}, events), upsert=True
        )

    async def account(self, tenant: str, advocate: str, network: str) -> Document | None:
        return await self.accounts.find_one({"_id": f"{tenant}:{advocate}:{network}"})

    async def accounts_of(self, tenant: str, advocate: str) -> list[Document]:
        cursor = self.accounts.find({"tenant": tenant, "advocate": advocate}, {OUTBOX: 0})
        return [doc async for doc in cursor]

    async def all_accounts(self) -> list[Document]:
        return [doc async for doc in self.accounts.find({}, {OUTBOX: 0})]

    # Shares --------------------------------------------------------------------
    async def claim_idempotency_key(self, key: str, share_id: str) -> str:
        """The share id this key stands for: `share_id` if the key is new."""
        try:
            await self._idempotency.insert_one({"_id": key, "share_id": share_id})
            return share_id
        except DuplicateKeyError:
            doc = await self._idempotency.find_one({"_id": key})
            assert doc is not None
            return str(doc["share_id"])

    async def insert_share(self, share: Share, events: list[Document]) -> bool:
        try:
            await self.shares.insert_one(
                {**share_to_doc(share), OUTBOX: events, PENDING: bool(events)}
            )
            return True
        except DuplicateKeyError:
            return False

    async def insert_shares(self, shares: list[tuple[Share, list[Document]]]) -> None:
        """Insert many shares with their events in one unordered bulk write;
        shares that exist already (same id) are left as they are."""
        await bulk_write_new(
            self.shares,
            [
                InsertOne({**share_to_doc(share), OUTBOX: events, PENDING: bool(events)})
                for share, events in shares
            ],
        )

    async def share(self, share_id: str) -> Share | None:
        doc = await self.shares.find_one({"_id": share_id}, {OUTBOX: 0})
        return doc_to_share(doc) if doc else None

    async def _shares(self, query: Document) -> list[Share]:
        return [doc_to_share(doc) async for doc in self.shares.find(query, {OUTBOX: 0})]

    async def shares_of(self, tenant: str, advocate: str) -> list[Share]:
        return await self._shares({"tenant": tenant, "advocate": advocate})

    async def shares_page(
        self, tenant: str, advocate: str, after: Document | None, limit: int
    ) -> list[Share]:
        """An advocate's shares, newest first, from just after `after` (the
        created_at and id of the last share of the previous page)."""
        query: Document = {"tenant": tenant, "advocate": advocate}
        if after:
            query |= after_in_newest_first(after)
        cursor = self.shares.find(query, {OUTBOX: 0}).sort(NEWEST_FIRST).limit(limit)
        return [doc_to_share(doc) async for doc in cursor]

    async def shares_of_content(self, tenant: str, content_id: str) -> list[Share]:
        return await self._shares({"tenant": tenant, "content_id": content_id})

    async def scheduled_shares(self) -> list[Share]:
        return await self._shares({"scheduled": True})

    async def move(
        self,
        share_id: str,
        network: Network,
        expected: Status,
        to: Status,
        *,
        events: Sequence[Document] = (),
        scheduled: bool | None = None,
        **changes: Any,
    ) -> bool:
        """Move the network from `expected` to `to`, setting `changes` (fields of
        NetworkShare), if its status is still `expected` (compare and set): the
        one way a (share, network) changes status, checked against the state
        machine first (a change it does not allow is a bug: nothing is written).
        `scheduled` sets the share's mark for the scheduler."""
        require_move(expected, to)
        unknown = set(changes) - NETWORK_SHARE_FIELDS
        assert not unknown, f"not fields of a share's network: {sorted(unknown)}"
        at = f"networks.{network.value}"
        update: Document = {f"{at}.{name}": value for name, value in changes.items()}
        update[f"{at}.status"] = to.value
        if scheduled is not None:
            update["scheduled"] = scheduled
        result = await self.shares.update_one(
            {"_id": share_id, f"{at}.status": expected.value},
            with_outbox({"$set": update}, list(events)),
        )
        return result.matched_count == 1

    async def unschedule(self, share_id: str, networks: Sequence[Network]) -> bool:
        """Clear the scheduled mark, unless a network went back to waiting meanwhile."""
        guard = {f"networks.{n.value}.status": {"$ne": Status.SCHEDULED.value} for n in networks}
        result = await self.shares.update_one(
            {"_id": share_id, "scheduled": True, **guard}, {"$set": {"scheduled": False}}
        )
        return result.matched_count == 1
