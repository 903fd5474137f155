"""What one event adds to the programme's figures: a share, or some
engagement, by one advocate, on one network, for one item, on one day; or
points the scoring engine awarded an advocate on a day."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date

from chorus.insights.domain.figures import Engagement

COUNTERS = ("shares", *(f.name for f in fields(Engagement)))


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
        counted = {"shares": self.shares, **asdict(self.engagement)}
        return {name: value for name, value in counted.items() if value}


@dataclass(frozen=True)
class Awarded:
    event_id: str
    tenant: str
    advocate: str
    day: date
    points: int
