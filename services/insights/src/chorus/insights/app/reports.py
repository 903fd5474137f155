"""The programme's figures for a period: for admins and curators the
tenant's, for an advocate their own. A group smaller than the tenant's k is
suppressed (never shown as zero), and advocates who left are never named."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from chorus.insights.adapters.rollups import ROLLED_UP
from chorus.insights.adapters.store import Breakdown, InsightsStore, Item
from chorus.insights.domain.figures import (
    Concentration,
    EarnedMedia,
    Engagement,
    MediaRates,
    concentration,
    earned_media,
    participation,
)
from chorus.insights.domain.periods import Period
from chorus.insights.domain.reach import Reach, potential_reach, reach_of
from chorus.kit.auth import Principal, Role
from chorus.kit.calendar import week_start
from chorus.kit.errors import ErrorCode, ProblemError, Violation
from chorus.kit.networks import Network

READERS = (Role.ADMIN, Role.CURATOR)
DEFAULT_CURRENCY = "USD"


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class Filters:
    network: Network | None = None
    content_id: str | None = None
    group: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Row:
    """One line of a ranking or a series: a name and what it counted."""

    key: str
    shares: int
    engagement: Engagement
    label: str = ""
    withdrawn: bool = False  # an item retracted since


@dataclass(frozen=True)
class ProgrammeReport:
    period: Period
    filters: Filters
    # Set when a group is smaller than k: every figure below is then empty.
    suppressed: bool
    shares: int = 0
    enrolled: int = 0
    active: int = 0
    participation: float | None = None
    # None with a group filter: opt-outs are kept anonymously, without a group.
    opt_outs: int | None = None
    engagement: Engagement = field(default_factory=Engagement)
    engagement_per_share: float | None = None
    # Points the scoring engine awarded; None under a network, item or tag
    # filter (points belong to an advocate and a day, not to a share's network).
    points: int | None = None
    reach: Reach | None = None
    earned_media: EarnedMedia | None = None
    advocates: Concentration | None = None
    content: Concentration | None = None
    top_advocates: tuple[Row, ...] = ()
    top_content: tuple[Row, ...] = ()
    series: tuple[Row, ...] = ()


@dataclass(frozen=True)
class AdvocateReport:
    period: Period
    advocate: str
    shares: int
    engagement: Engagement
    points: int
    reach: Reach
    by_network: tuple[Row, ...]
    series: tuple[Row, ...]


def _total(rows: dict[str, tuple[int, Engagement]]) -> tuple[int, Engagement]:
    shares, engagement = 0, Engagement()
    for count, counted in rows.values():
        shares, engagement = shares + count, engagement + counted
    return shares, engagement


def _ranked(rows: dict[str, tuple[int, Engagement]], limit: int) -> list[Row]:
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1][1].total, -kv[1][0], kv[0]))
    return [Row(key, shares, counted) for key, (shares, counted) in ordered[:limit]]


def series(
    rows: dict[str, tuple[int, Engagement]], period: Period, interval: Interval
) -> list[Row]:
    """Every day (or ISO week) of the period, those without activity as zeros."""
    buckets: dict[str, tuple[int, Engagement]] = {}
    for day in period.days:
        key = day.isoformat()
        if interval is Interval.WEEK:
            key = week_start(day).isoformat()
        shares, counted = buckets.get(key, (0, Engagement()))
        day_shares, day_counted = rows.get(day.isoformat(), (0, Engagement()))
        buckets[key] = (shares + day_shares, counted + day_counted)
    return [Row(key, shares, counted) for key, (shares, counted) in buckets.items()]


def _item_row(row: Row, item: Item | None) -> Row:
    if item is None:
        return row
    return Row(row.key, row.shares, row.engagement, item.title, item.retracted)


@dataclass(frozen=True)
class _Summary:
    """A period's figures that were read two ways (see Reports._rolled_up)."""

    found: Breakdown  # by_content, by_network and by_day
    advocate_totals: list[int]
    active: int
    top_advocates: tuple[Row, ...]
    reach: Reach


async def _none() -> None:
    return None


async def _value(known: int) -> int:
    return known


def _earned_media(
    found: Breakdown, configured: tuple[str, dict[str, MediaRates]] | None
) -> EarnedMedia:
    currency, rates = configured if configured else (DEFAULT_CURRENCY, {})
    return earned_media(
        {network: counted for network, (_, counted) in found.by_network.items()}, rates, currency
    )


class Reports:
    def __init__(self, store: InsightsStore, *, min_group_size: int) -> None:
        self._store = store
        self._k = min_group_size

    async def programme(
        self,
        principal: Principal,
        period: Period,
        filters: Filters,
        *,
        interval: Interval = Interval.DAY,
        limit: int = 10,
    ) -> ProgrammeReport:
        principal.require_role(*READERS)
        tenant = principal.tenant
        members, in_group = None, 0
        if filters.group is not None:
            members = await self._store.group_members(tenant, filters.group)
            if not members:
                raise ProblemError(
                    ErrorCode.VALIDATION_FAILED,
                    f"no advocate is in the group {filters.group!r}",
                    [Violation("group", "a group of the tenant's advocates")],
                )
            in_group = await self._store.enrolled_during(tenant, period, filters.group)
            if in_group < self._k:
                return ProgrammeReport(period, filters, suppressed=True)
        content_ids = await self._content_ids(tenant, filters)

        rolled_up = await self._store.rollups_since() <= period.start
        kind_rolled_up = await self._store.rollups_since(period.kind) <= period.start

        async def summary() -> _Summary:
            hidden = await self._store.opted_out(tenant)
            if filters == Filters() and period.kind in ROLLED_UP and kind_rolled_up:
                return await self._rolled_up(tenant, period, hidden, limit)
            return await self._summed(tenant, period, filters, content_ids, members, hidden, limit)

        unfiltered_points = filters.network is None and content_ids is None
        # A group's enrolment is counted above already; the tenant's, beside the rest.
        enrolled, summed, opt_outs, points, rates = await asyncio.gather(
            _value(in_group)
            if members is not None
            else self._store.enrolled_during(tenant, period, None),
            summary(),
            self._store.opt_outs(tenant, period) if filters.group is None else _none(),
            self._store.points_awarded(tenant, period, members, rolled_up=rolled_up)
            if unfiltered_points
            else _none(),
            self._store.media_rates(tenant),
        )
        found = summed.found
        shares, engagement = _total(found.by_network)
        top_content = _ranked(found.by_content, limit)
        items = await self._store.items(tenant, [row.key for row in top_content])
        return ProgrammeReport(
            period,
            filters,
            suppressed=False,
            shares=shares,
            enrolled=enrolled,
            active=summed.active,
            participation=participation(summed.active, enrolled),
            opt_outs=opt_outs,
            engagement=engagement,
            engagement_per_share=engagement.total / shares if shares else None,
            points=points,
            reach=summed.reach,
            earned_media=_earned_media(found, rates),
            advocates=concentration(summed.advocate_totals),
            content=concentration([c.total for _, c in found.by_content.values()]),
            top_advocates=summed.top_advocates,
            top_content=tuple(_item_row(row, items.get(row.key)) for row in top_content),
            series=tuple(series(found.by_day, period, interval)),
        )

    async def _summed(
        self,
        tenant: str,
        period: Period,
        filters: Filters,
        content_ids: Sequence[str] | None,
        members: Sequence[str] | None,
        hidden: set[str],
        limit: int,
    ) -> _Summary:
        """Any period under any filter, from the day buckets."""
        found = await self._store.breakdown(
            tenant, period, network=filters.network, content_ids=content_ids, advocates=members
        )
        ranked = _ranked(found.by_advocate, len(found.by_advocate))
        return _Summary(
            found,
            [c.total for _, c in found.by_advocate.values()],
            sum(1 for count, _ in found.by_advocate.values() if count > 0),
            tuple(row for row in ranked if row.key not in hidden)[:limit],
            await self._reach(tenant, found),
        )

    async def _rolled_up(
        self, tenant: str, period: Period, hidden: set[str], limit: int
    ) -> _Summary:
        """A week, a month or a quarter without filters, from its rollups: the same
        figures as _summed, in a fraction of the time."""
        found, advocates, audiences = await asyncio.gather(
            self._store.rolled_up(tenant, period),
            self._store.ranked_advocates(tenant, period, hidden=hidden, limit=limit),
            self._store.audience_sums(tenant, period),
        )
        return _Summary(
            found,
            advocates.totals,
            advocates.active,
            tuple(Row(key, shares, counted) for key, shares, counted in advocates.ranked),
            reach_of(audiences),
        )

    async def mine(
        self, principal: Principal, period: Period, *, interval: Interval = Interval.DAY
    ) -> AdvocateReport:
        principal.require_role(Role.ADVOCATE)
        found = await self._store.breakdown(principal.tenant, period, advocates=[principal.subject])
        shares, engagement = _total(found.by_network)
        return AdvocateReport(
            period,
            principal.subject,
            shares,
            engagement,
            await self._store.points_awarded(principal.tenant, period, [principal.subject]),
            await self._reach(principal.tenant, found),
            tuple(_ranked(found.by_network, len(found.by_network))),
            tuple(series(found.by_day, period, interval)),
        )

    async def _content_ids(self, tenant: str, filters: Filters) -> Sequence[str] | None:
        if filters.tag is None:
            return [filters.content_id] if filters.content_id is not None else None
        tagged = await self._store.contents_tagged(tenant, filters.tag)
        if filters.content_id is not None:
            return [c for c in tagged if c == filters.content_id]
        return tagged

    async def _reach(self, tenant: str, found: Breakdown) -> Reach:
        known = await self._store.audiences(tenant, {advocate for advocate, _ in found.sharers})
        return potential_reach(found.sharers, known)

    async def media_rates(self, principal: Principal) -> tuple[str, dict[str, MediaRates]]:
        """The rates in force: each network's, zero where none was set."""
        principal.require_role(*READERS)
        currency, rates = await self._store.media_rates(principal.tenant) or (DEFAULT_CURRENCY, {})
        return currency, {n.value: rates.get(n.value, MediaRates()) for n in Network}

    async def set_media_rates(
        self, principal: Principal, currency: str, rates: Mapping[Network, MediaRates]
    ) -> None:
        """The tenant's paid-media prices, which earned media value is reckoned in."""
        principal.require_role(Role.ADMIN)
        await self._store.set_media_rates(principal.tenant, currency, rates)
