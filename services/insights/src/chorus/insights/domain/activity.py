"""What one event adds to the programme's figures: a share, or some
engagement, by one advocate, on one network, for one item, on one day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from chorus.insights.domain.figures import Engagement

COUNTERS = ("shares", "clicks", "unique_clicks", "reactions", "comments", "reshares", "impressions")


@dataclass(frozen=True)
class Counted:
    event_id: str
    tenant: str
    advocate: str
    day: date
    network: str
    content_id: str
    shares: int = 0
    engagement: Engagement = field(default_factory=Engagement)

    def counters(self) -> dict[str, int]:
        e = self.engagement
        return {
            name: value
            for name, value in zip(
                COUNTERS,
                (
                    self.shares,
                    e.clicks,
                    e.unique_clicks,
                    e.reactions,
                    e.comments,
                    e.reshares,
                    e.impressions,
                ),
                strict=True,
            )
            if value
        }


def engagement_of(kind: str, delta: int) -> Engagement:
    """An observation of `delta` engagements of `kind` (click, unique_click, ...)."""
    plural = {
        "click": "clicks",
        "unique_click": "unique_clicks",
        "reaction": "reactions",
        "comment": "comments",
        "reshare": "reshares",
        "impression": "impressions",
    }
    return Engagement(**{plural[kind]: delta}) if kind in plural else Engagement()
