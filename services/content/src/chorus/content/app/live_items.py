"""An in-memory snapshot of each tenant's approved items, for the feed.

The feed reads a per-tenant snapshot, sorted once (highest priority, then
newest), and filters it with the pure targeting rule (the one auto-share uses
too), rather than asking MongoDB for each page: bench/content_feed.py measures
both, and the snapshot serves several times more pages per second (README).
Every approval or retraction bumps a per-tenant version in MongoDB; a replica
re-checks that version at most once a second and reloads in the background
while it keeps serving the previous snapshot (stale by at most one reload).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chorus.content.adapters.store import FOREVER, ContentStore
from chorus.content.domain.model import Item


def feed_sort_key(item: Item) -> tuple[int, float, str]:
    """Highest priority first, then newest, then by id: a total order for cursors."""
    published = item.publish_at or item.approved_at or FOREVER
    return (-item.priority, -published.timestamp(), item.id)


@dataclass
class _Snapshot:
    version: int
    items: list[Item]
    checked_at: float
    refreshing: asyncio.Task[None] | None = field(default=None)


class LiveItems:
    def __init__(
        self,
        store: ContentStore,
        clock: Callable[[], datetime],
        *,
        recheck_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._recheck = recheck_seconds
        self._monotonic = monotonic
        self._snapshots: dict[str, _Snapshot] = {}
        self._loading: dict[str, asyncio.Task[_Snapshot]] = {}

    async def of(self, tenant: str) -> list[Item]:
        """The tenant's approved, unexpired items in feed order."""
        snapshot = self._snapshots.get(tenant)
        if snapshot is None:
            snapshot = await self._load_once(tenant)
            return snapshot.items
        if self._monotonic() - snapshot.checked_at < self._recheck:
            return snapshot.items
        version = await self._store.feed_version(tenant)
        snapshot.checked_at = self._monotonic()
        if version != snapshot.version and snapshot.refreshing is None:
            snapshot.refreshing = asyncio.create_task(self._refresh(tenant))
        return snapshot.items

    async def _refresh(self, tenant: str) -> None:
        try:
            self._snapshots[tenant] = await self._load(tenant)
        finally:
            stale = self._snapshots.get(tenant)
            if stale is not None:
                stale.refreshing = None

    async def _load_once(self, tenant: str) -> _Snapshot:
        """Concurrent first requests for a tenant share one load."""
        task = self._loading.get(tenant)
        if task is None:
            task = asyncio.create_task(self._load(tenant))
            self._loading[tenant] = task
            task.add_done_callback(lambda _: self._loading.pop(tenant, None))
        snapshot = await task
        self._snapshots[tenant] = snapshot
        return snapshot

    async def _load(self, tenant: str) -> _Snapshot:
        version = await self._store.feed_version(tenant)
        items = await self._store.feed_items(tenant, self._clock())
        items.sort(key=feed_sort_key)
        return _Snapshot(version, items, self._monotonic())
