"""Rule versions per tenant in MongoDB, each stored with its RulesChanged event
(outbox), and the engine's cache of them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.gamification.domain.rules import RuleHistory, RuleSet
from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.outbox import OUTBOX, PENDING


class RulesStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["rules"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("tenant", ASCENDING)])

    async def history(self, tenant: str) -> RuleHistory:
        docs = [doc async for doc in self.collection.find({"tenant": tenant})]
        return RuleHistory([RuleSet.model_validate(doc["rules"]) for doc in docs])

    async def insert(
        self, tenant: str, rules: RuleSet, changed_by: str, events: list[dict[str, Any]]
    ) -> None:
        """Store `rules` (its version the next one) with its events (outbox);
        two admins saving the same version at once: one gets 409."""
        try:
            await self.collection.insert_one(
                {
                    "_id": f"{tenant}:{rules.version}",
                    "tenant": tenant,
                    "version": rules.version,
                    "rules": rules.model_dump(mode="json"),
                    "changed_by": changed_by,
                    "saved_at": datetime.now(UTC),
                    OUTBOX: events,
                    PENDING: bool(events),
                }
            )
        except DuplicateKeyError as exc:
            raise ProblemError(
                ErrorCode.CONFLICT, "the rules changed meanwhile; read them and save again"
            ) from exc


class RulesCache:
    """The engine's view of every tenant's rule history.

    Rules take effect a few seconds after they are saved (see RULES_SETTLE), so
    a history loaded at time L is complete for every event up to L: events
    newer than the last load trigger a reload, at most once per `refresh`.
    """

    def __init__(self, store: RulesStore, refresh_seconds: float = 1.0) -> None:
        self._store = store
        self._refresh = refresh_seconds
        self._loaded: dict[str, tuple[datetime, float, RuleHistory]] = {}

    async def history(self, tenant: str, newest_event: datetime) -> RuleHistory:
        cached = self._loaded.get(tenant)
        if cached:
            loaded_at, loaded_monotonic, history = cached
            fresh_enough = newest_event <= loaded_at
            if fresh_enough or time.monotonic() - loaded_monotonic < self._refresh:
                return history
        loaded_at = datetime.now(UTC)
        history = await self._store.history(tenant)
        self._loaded[tenant] = (loaded_at, time.monotonic(), history)
        return history
