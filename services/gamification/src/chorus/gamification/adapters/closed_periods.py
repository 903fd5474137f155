"""Closing a period: the top N advocates of each tenant's week, month and
quarter earn a badge, once. The closed period is one document (inserted
once, whoever runs the closer) holding the winners and their BadgeEarned
events (outbox)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned
from chorus.gamification.adapters.rules_store import RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.badges import EarnedBadge, top_badge
from chorus.gamification.domain.leaderboard import ranked
from chorus.gamification.domain.periods import CLOSING_PERIODS, previous_period
from chorus.kit.envelope import timestamp
from chorus.kit.outbox import OUTBOX, PENDING, outbox_entry
from chorus.kit.topics import BADGE_EARNED, advocate_key

log = logging.getLogger(__name__)


class ClosedPeriods:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        standings: Standings,
        rules: RulesStore,
        grace: timedelta = timedelta(hours=1),
    ) -> None:
        self.collection = db["closed_periods"]
        self._standings = standings
        self._rules = rules
        self._grace = grace

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("tenant", ASCENDING)])

    async def close_due(self, now: datetime | None = None) -> int:
        """Close every period that ended more than `grace` ago (late events
        still count in their period until then). Returns how many it closed."""
        now = now or datetime.now(UTC)
        closed = 0
        for tenant in await self._standings.tenants():
            top_n = (await self._rules.history(tenant)).at(now).badges.top_n
            for kind in CLOSING_PERIODS:
                period, ended_at = previous_period(kind, now)
                if now < ended_at + self._grace:
                    continue
                key = f"{tenant}|{kind}|{period}"
                if await self.collection.find_one({"_id": key}, {"_id": 1}):
                    continue
                board = ranked(await self._standings.of_tenant(tenant), kind, period)[:top_n]
                badge = top_badge(top_n, kind)
                stamp = timestamp(ended_at)
                events = [
                    outbox_entry(
                        BADGE_EARNED,
                        advocate_key(tenant, entry.advocate),
                        BadgeEarned(
                            tenant=tenant,
                            advocate=entry.advocate,
                            badge=badge,
                            period=period,
                            earned_at=stamp,
                        ),
                    )
                    for entry in board
                ]
                try:
                    await self.collection.insert_one(
                        {
                            "_id": key,
                            "tenant": tenant,
                            "kind": str(kind),
                            "period": period,
                            "badge": badge,
                            "winners": [entry.advocate for entry in board],
                            "ended_at": ended_at,
                            OUTBOX: events,
                            PENDING: bool(events),
                        }
                    )
                    closed += 1
                    log.info("period closed", extra={"tenant": tenant, "period": key})
                except DuplicateKeyError:
                    pass  # another replica closed it first
        return closed

    async def badges_of(self, tenant: str, advocate: str) -> list[EarnedBadge]:
        return [
            EarnedBadge(doc["badge"], doc["period"], doc["ended_at"].replace(tzinfo=UTC))
            async for doc in self.collection.find({"tenant": tenant})
            if advocate in doc.get("winners", [])
        ]
