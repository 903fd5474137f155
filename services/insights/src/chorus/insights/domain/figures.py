"""The programme's figures, as pure functions of counted activity.

Engagement concentration is the field's "2% of employees' shares produce
about 20% of the engagement": the share of all engagement earned by the top
2%, 10% and 20% of the advocates who shared, the Lorenz curve and the Gini
coefficient — computed the same way for content items.

Earned media value is what the same attention would have cost as paid media:
per network, CPM * impressions ÷ 1,000 + CPC * clicks (+ an optional value
per reaction, comment and reshare). It is an estimate, never revenue: it is
always returned with its inputs and rates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TOP_SHARES = (0.02, 0.10, 0.20)
# The counters that make up an engagement total (see Engagement.total).
ENGAGEMENT_COUNTERS = ("clicks", "reactions", "comments", "reshares")
# Lorenz points returned at most (a chart needs no more).
LORENZ_POINTS = 21


@dataclass(frozen=True)
class Engagement:
    clicks: int = 0
    unique_clicks: int = 0
    reactions: int = 0
    comments: int = 0
    reshares: int = 0
    impressions: int = 0

    @property
    def total(self) -> int:
        """What counts as engagement for concentration: every interaction
        (impressions are exposure, not engagement; unique clicks are in clicks)."""
        return sum(getattr(self, name) for name in ENGAGEMENT_COUNTERS)

    def __add__(self, other: Engagement) -> Engagement:
        return Engagement(
            self.clicks + other.clicks,
            self.unique_clicks + other.unique_clicks,
            self.reactions + other.reactions,
            self.comments + other.comments,
            self.reshares + other.reshares,
            self.impressions + other.impressions,
        )


@dataclass(frozen=True)
class TopShare:
    top: float  # the fraction of contributors, e.g. 0.02
    contributors: int  # how many that is (at least one)
    share: float  # their fraction of all engagement


@dataclass(frozen=True)
class Concentration:
    contributors: int
    total: int
    tops: tuple[TopShare, ...]
    gini: float
    # (fraction of contributors, fraction of engagement), least engaged first.
    lorenz: tuple[tuple[float, float], ...]


def concentration(amounts: Sequence[int], tops: Sequence[float] = TOP_SHARES) -> Concentration:
    """How unevenly engagement is spread over its contributors (advocates who
    shared, or items that were shared). The top p are the ceil(p * n) largest."""
    n, total = len(amounts), sum(amounts)
    ranked = sorted(amounts, reverse=True)
    top_shares = tuple(
        TopShare(
            top,
            max(1, math.ceil(top * n)) if n else 0,
            sum(ranked[: max(1, math.ceil(top * n))]) / total if total else 0.0,
        )
        for top in tops
    )
    ascending = ranked[::-1]
    if n == 0 or total == 0:
        return Concentration(n, total, top_shares, 0.0, ((0.0, 0.0), (1.0, 1.0)))
    # G = 2 Σ i·x_i / (n Σ x) - (n + 1) / n, x ascending, i from 1.
    weighted = sum(i * x for i, x in enumerate(ascending, start=1))
    gini = 2 * weighted / (n * total) - (n + 1) / n
    cumulative = [0]
    for x in ascending:
        cumulative.append(cumulative[-1] + x)
    steps = sorted({round(k * n / (LORENZ_POINTS - 1)) for k in range(LORENZ_POINTS)})
    lorenz = tuple((k / n, cumulative[k] / total) for k in steps)
    return Concentration(n, total, top_shares, round(gini, 6), lorenz)


def participation(active: int, enrolled: int) -> float | None:
    """Active ÷ enrolled; None (not zero) when nobody is enrolled."""
    return active / enrolled if enrolled else None


@dataclass(frozen=True)
class MediaRates:
    """What a programme would pay per network for the same attention."""

    cpm: float = 0.0  # per 1,000 impressions
    cpc: float = 0.0  # per click
    per_reaction: float = 0.0
    per_comment: float = 0.0
    per_reshare: float = 0.0


@dataclass(frozen=True)
class MediaValue:
    network: str
    engagement: Engagement
    rates: MediaRates
    value: float


@dataclass(frozen=True)
class EarnedMedia:
    currency: str
    networks: tuple[MediaValue, ...]
    total: float = field(default=0.0)


def earned_media(
    by_network: Mapping[str, Engagement], rates: Mapping[str, MediaRates], currency: str
) -> EarnedMedia:
    values = []
    for network in sorted(by_network):
        counted, rate = by_network[network], rates.get(network, MediaRates())
        value = (
            rate.cpm * counted.impressions / 1000
            + rate.cpc * counted.clicks
            + rate.per_reaction * counted.reactions
            + rate.per_comment * counted.comments
            + rate.per_reshare * counted.reshares
        )
        values.append(MediaValue(network, counted, rate, round(value, 2)))
    return EarnedMedia(currency, tuple(values), round(sum(v.value for v in values), 2))
