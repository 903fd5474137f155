"""Closing a period: the top N advocates of each tenant's week, month and
quarter earn a badge, once, when the period ended more than the grace ago
(late events still count in their period until then)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned
from chorus.gamification.adapters.closed_periods import (
    ClosedPeriod,
    ClosedPeriods,
    closed_period_key,
)
from chorus.gamification.adapters.rules_store import RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.badges import top_badge
from chorus.gamification.domain.leaderboard import ranked
from chorus.gamification.domain.periods import CLOSING_PERIODS, previous_period
from chorus.kit.envelope import timestamp
from chorus.kit.outbox import outbox_entry
from chorus.kit.topics import BADGE_EARNED, advocate_key

log = logging.getLogger(__name__)


class PeriodCloser:
    def __init__(
        self,
        closed: ClosedPeriods,
        standings: Standings,
        rules: RulesStore,
        grace: timedelta = timedelta(hours=1),
    ) -> None:
        self._closed = closed
        self._standings = standings
        self._rules = rules
        self._grace = grace

    async def close_due(self, now: datetime | None = None) -> int:
        """Close every period that ended more than `grace` ago; how many it closed."""
        now = now or datetime.now(UTC)
        closed = 0
        for tenant in await self._standings.tenants():
            top_n = (await self._rules.history(tenant)).at(now).badges.top_n
            for kind in CLOSING_PERIODS:
                period, ended_at = previous_period(kind, now)
                if now < ended_at + self._grace:
                    continue
                if await self._closed.is_closed(closed_period_key(tenant, kind, period)):
                    continue
                ranks = ranked(await self._standings.of_tenant(tenant), kind, period)[:top_n]
                board = ClosedPeriod(
                    tenant=tenant,
                    kind=str(kind),
                    period=period,
                    badge=top_badge(top_n, kind),
                    winners=tuple(entry.advocate for entry in ranks),
                    ended_at=ended_at,
                )
                if await self._closed.record(board, self._badge_events(board)):
                    closed += 1
                    log.info("period closed", extra={"tenant": tenant, "period": board.key})
        return closed

    @staticmethod
    def _badge_events(board: ClosedPeriod) -> list[dict[str, object]]:
        stamp = timestamp(board.ended_at)
        return [
            outbox_entry(
                BADGE_EARNED,
                advocate_key(board.tenant, advocate),
                BadgeEarned(
                    tenant=board.tenant,
                    advocate=advocate,
                    badge=board.badge,
                    period=board.period,
                    earned_at=stamp,
                ),
            )
            for advocate in board.winners
        ]
