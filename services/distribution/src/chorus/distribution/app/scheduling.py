"""Scheduled shares and deferred retries: released as posting work when due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.app import share_events
from chorus.distribution.domain.sharing import Status


class Scheduler:
    def __init__(self, store: DistributionStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._now = clock

    async def release_due(self) -> int:
        """Queue scheduled shares and deferred retries whose time has come."""
        released = 0
        now = self._now()
        for share in await self._store.scheduled_shares():
            waiting = False
            for network, entry in share.networks.items():
                if entry.status is not Status.SCHEDULED:
                    continue
                due_at = share.due_at(network)
                if due_at is not None and due_at > now:
                    waiting = True
                    continue
                if await self._store.move(
                    share.id,
                    network,
                    Status.SCHEDULED,
                    Status.QUEUED,
                    events=[share_events.requested(share, network)],
                ):
                    released += 1
            if not waiting:
                await self._store.unschedule(share.id, list(share.networks))
        return released
