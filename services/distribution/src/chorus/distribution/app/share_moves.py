"""The transitions several use cases make, with the event each announces:
a network failed (share.failed) or posted (share.performed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter

from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.app import share_events
from chorus.distribution.domain.model import Share
from chorus.distribution.domain.sharing import Status
from chorus.kit.metrics import Metrics
from chorus.kit.networks import Network


class ShareMoves:
    def __init__(
        self, store: DistributionStore, metrics: Metrics, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._now = clock
        self.posts = Counter(
            "chorus_posts_total",
            "Posting attempts by network and outcome.",
            ["network", "outcome"],
            registry=metrics.registry,
        )

    async def fail(
        self, share: Share, network: Network, status: Status, code: str, reason: str
    ) -> bool:
        self.posts.labels(network, "failed").inc()
        return await self._store.move(
            share.id,
            network,
            status,
            Status.FAILED,
            failure=f"{code}: {reason}",
            events=[share_events.failed(share, network, code, reason, self._now())],
        )

    async def posted(
        self, share: Share, network: Network, status: Status, post_ref: str, tracked: str
    ) -> bool:
        now = self._now()
        return await self._store.move(
            share.id,
            network,
            status,
            Status.POSTED,
            post_ref=post_ref,
            performed_at=now,
            events=[share_events.performed(share, network, post_ref, tracked, now)],
        )
