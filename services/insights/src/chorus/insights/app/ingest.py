"""What insights takes from the other services' events: shares and
engagement into day buckets, enrolments and opt-outs, items and their tags.
Every handler is idempotent by itself (see adapters/store.py)."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentApproved,
    ContentRetracted,
)
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind, EngagementObserved
from chorus.insights.adapters.store import InsightsStore, Lifecycle, day_of
from chorus.insights.domain.activity import Counted, engagement_of
from chorus.kit.envelope import Envelope, messages, utc_moment
from chorus.kit.networks import network_name

LIFECYCLE = AdvocateLifecycle


def _kind(number: int) -> str:
    """ "ENGAGEMENT_KIND_UNIQUE_CLICK" -> "unique_click"."""
    return EngagementKind.Name(number).removeprefix("ENGAGEMENT_KIND_").lower()  # type: ignore[arg-type]


class Ingest:
    def __init__(self, store: InsightsStore) -> None:
        self._store = store

    async def on_shares_performed(self, events: Sequence[Envelope]) -> None:
        await self._store.add(
            [
                Counted(
                    event.id,
                    share.tenant,
                    share.advocate,
                    day_of(utc_moment(share.performed_at)),
                    network_name(share.network),
                    share.content_id,
                    shares=1,
                )
                for event, share in zip(events, messages(events, SharePerformed), strict=True)
            ]
        )

    async def on_engagement_observed(self, events: Sequence[Envelope]) -> None:
        await self._store.add(
            [
                Counted(
                    event.id,
                    seen.tenant,
                    seen.advocate,
                    day_of(utc_moment(seen.observed_at)),
                    network_name(seen.network),
                    seen.content_id,
                    engagement=engagement_of(_kind(seen.kind), int(seen.delta)),
                )
                for event, seen in zip(events, messages(events, EngagementObserved), strict=True)
                if seen.delta > 0
            ]
        )

    async def on_lifecycle(self, events: Sequence[Envelope]) -> None:
        """Enrolments and opt-outs in order; an erasure removes the advocate
        from every figure that names them (after the changes before it)."""
        pending: list[Lifecycle] = []
        for event, change in zip(events, messages(events, AdvocateLifecycle), strict=True):
            if change.change == LIFECYCLE.CHANGE_ERASED:
                await self._store.apply_lifecycle(pending)
                pending = []
                await self._store.erase(change.tenant, change.advocate)
            elif change.change in (LIFECYCLE.CHANGE_ENROLLED, LIFECYCLE.CHANGE_OPTED_OUT):
                pending.append(
                    Lifecycle(
                        event.id,
                        change.tenant,
                        change.advocate,
                        utc_moment(change.occurred_at),
                        enrolled=change.change == LIFECYCLE.CHANGE_ENROLLED,
                        groups=tuple(change.groups),
                    )
                )
        await self._store.apply_lifecycle(pending)

    async def on_content_approved(self, events: Sequence[Envelope]) -> None:
        for item in messages(events, ContentApproved):
            await self._store.save_content(item.tenant, item.content_id, item.title, item.tags)

    async def on_content_retracted(self, retracted: ContentRetracted, event: Envelope) -> None:
        await self._store.mark_retracted(retracted.tenant, retracted.content_id)
