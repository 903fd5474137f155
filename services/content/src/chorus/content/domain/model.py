"""The content domain's values: programs, items, enrollments (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Networks and targeting values are shared with distribution: they live in the kit.
from chorus.kit.networks import Network as Network
from chorus.kit.targeting import Audience as Audience
from chorus.kit.targeting import Profile as Profile


class State(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    LIVE = "live"
    EXPIRED = "expired"
    RETRACTED = "retracted"
    REJECTED = "rejected"


class ItemKind(StrEnum):
    CURATED = "curated"
    SUGGESTION = "suggestion"  # an advocate's own work moment


@dataclass(frozen=True)
class PostingFrequency:
    per_day: int = 3
    per_week: int = 10
    hard_limit: bool = False  # False: guidance only


@dataclass(frozen=True)
class Program:
    tenant: str
    policy_text: str = ""
    policy_version: int = 0
    disclosure: str = "#employee"
    disclosure_auto_append: bool = True
    banned_terms: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()  # empty: any domain
    frequency: PostingFrequency = field(default_factory=PostingFrequency)
    version: int = 0


@dataclass(frozen=True)
class Commentary:
    network: Network
    text: str


@dataclass(frozen=True)
class Item:
    tenant: str
    id: str
    author: str
    kind: ItemKind
    title: str
    url: str
    summary: str = ""
    commentaries: tuple[Commentary, ...] = ()
    media_refs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    audience: Audience = field(default_factory=Audience)
    language: str = "en"
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    priority: int = 0
    state: State = State.DRAFT
    rejection_reason: str = ""
    retraction_reason: str = ""
    approved_by: str = ""
    approved_at: datetime | None = None
    created_at: datetime | None = None
    version: int = 1


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Enrollment:
    tenant: str
    advocate: str
    status: EnrollmentStatus
    acknowledged_policy_version: int
    profile: Profile = field(default_factory=Profile)
    auto_share: bool = False
    # Followers or connections per network, as the advocate counts them.
    declared_audience: dict[Network, int] = field(default_factory=dict)

    def may_share_under(self, program: Program) -> bool:
        """Enrolled and acknowledged the policy version in force."""
        return (
            self.status is EnrollmentStatus.ENROLLED
            and self.acknowledged_policy_version == program.policy_version
        )
