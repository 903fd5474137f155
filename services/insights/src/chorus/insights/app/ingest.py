"""What insights takes from the other services' events: shares and
engagement into day buckets, points per advocate and day, enrolments and
opt-outs, items and their tags,
and the audience sizes the platforms report for connected accounts.
Every handler is idempotent by itself (see adapters/store.py)."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentApproved,
    ContentRetracted,
)
from chorus.contracts.distribution.v1.events_pb2 import AccountHealthChanged, SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind, EngagementObserved
from chorus.contracts.gamification.v1.events_pb2 import PointsAwarded
from chorus.insights.adapters.store import InsightsStore, Item, Lifecycle, MeasuredAudience
from chorus.insights.domain.activity import Awarded, Counted
from chorus.insights.domain.figures import Engagement
from chorus.kit.calendar import utc_day
from chorus.kit.envelope import Envelope, messages, utc_moment
from chorus.kit.networks import network_name, network_of

LIFECYCLE = AdvocateLifecycle


KIND = EngagementKind
# The Engagement field each kind counts in; a kind added later is not counted.
_COUNTED_AS = {
    KIND.ENGAGEMENT_KIND_CLICK: "clicks",
    KIND.ENGAGEMENT_KIND_UNIQUE_CLICK: "unique_clicks",
    KIND.ENGAGEMENT_KIND_REACTION: "reactions",
    KIND.ENGAGEMENT_KIND_COMMENT: "comments",
    KIND.ENGAGEMENT_KIND_RESHARE: "reshares",
    KIND.ENGAGEMENT_KIND_IMPRESSION: "impressions",
}


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
                    utc_day(utc_moment(share.performed_at)),
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
                    utc_day(utc_moment(seen.observed_at)),
                    network_name(seen.network),
                    seen.content_id,
                    engagement=Engagement(**{_COUNTED_AS[seen.kind]: int(seen.delta)}),
                )
                for event, seen in zip(events, messages(events, EngagementObserved), strict=True)
                if seen.delta > 0 and seen.kind in _COUNTED_AS
            ]
        )

    async def on_points_awarded(self, events: Sequence[Envelope]) -> None:
        await self._store.add_points(
            [
                Awarded(
                    event.id,
                    awarded.tenant,
                    awarded.advocate,
                    utc_day(utc_moment(awarded.occurred_at)),
                    int(awarded.points),
                )
                for event, awarded in zip(events, messages(events, PointsAwarded), strict=True)
                if awarded.points
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
                        declared_audience={
                            network_name(a.network): a.size
                            for a in change.audience
                            if a.size >= 0 and network_of(a.network)
                        },
                    )
                )
        await self._store.apply_lifecycle(pending)

    async def on_content_approved(self, events: Sequence[Envelope]) -> None:
        await self._store.save_contents(
            [
                Item(item.tenant, item.content_id, item.title, tuple(item.tags))
                for item in messages(events, ContentApproved)
            ]
        )

    async def on_content_retracted(self, retracted: ContentRetracted, event: Envelope) -> None:
        await self._store.mark_retracted(retracted.tenant, retracted.content_id)

    async def on_account_health(self, events: Sequence[Envelope]) -> None:
        await self._store.save_measured_audiences(
            [
                MeasuredAudience(
                    health.tenant,
                    health.advocate,
                    network_name(health.network),
                    health.audience_size,
                )
                for health in messages(events, AccountHealthChanged)
                if health.HasField("audience_size")
                and health.audience_size >= 0
                and network_of(health.network)
            ]
        )
