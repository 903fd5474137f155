"""Closed periods: one document each (inserted once, whoever runs the
closer) holding the winners and their BadgeEarned events (outbox). The
closing itself is app/period_closer.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chorus.gamification.domain.badges import EarnedBadge
from chorus.kit.outbox import OUTBOX, PENDING


@dataclass(frozen=True)
class ClosedPeriod:
    tenant: str
    kind: str
    period: str
    badge: str
    winners: tuple[str, ...]
    ended_at: datetime

    @property
    def key(self) -> str:
        return closed_period_key(self.tenant, self.kind, self.period)


def closed_period_key(tenant: str, kind: str, period: str) -> str:
    return f"{tenant}|{kind}|{period}"


class ClosedPeriods:
    """Closed periods, one document each (inserted once, whoever closes it)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["closed_periods"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("tenant", ASCENDING)])

    async def is_closed(self, key: str) -> bool:
        return await self.collection.find_one({"_id": key}, {"_id": 1}) is not None

    async def record(self, closed: ClosedPeriod, events: list[dict[str, Any]]) -> bool:
        """Store the closed period with its events (outbox); False when another
        replica closed it first."""
        try:
            await self.collection.insert_one(
                {
                    "_id": closed.key,
                    "tenant": closed.tenant,
                    "kind": closed.kind,
                    "period": closed.period,
                    "badge": closed.badge,
                    "winners": list(closed.winners),
                    "ended_at": closed.ended_at,
                    OUTBOX: events,
                    PENDING: bool(events),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def badges_of(self, tenant: str, advocate: str) -> list[EarnedBadge]:
        return [
            EarnedBadge(doc["badge"], doc["period"], doc["ended_at"].replace(tzinfo=UTC))
            async for doc in self.collection.find({"tenant": tenant})
            if advocate in doc.get("winners", [])
        ]
