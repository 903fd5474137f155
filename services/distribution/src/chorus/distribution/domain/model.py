"""Distribution's values: a share and its networks, and the read models it
keeps of content's advocates and programme. Plain dataclasses: the adapters
map them to and from documents (adapters/documents.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chorus.distribution.domain.sharing import Status
from chorus.kit.networks import Network


class Mode(StrEnum):
    API = "api"  # Chorus posts through the platform's API
    INTENT = "intent"  # the advocate posts through the platform's dialog, then confirms


@dataclass
class NetworkShare:
    """One network of a share: where it is in the state machine, and what it
    posted (or why not)."""

    mode: Mode
    status: Status
    commentary: str
    tracked_url: str = ""
    intent_url: str = ""
    post_ref: str = ""
    failure: str = ""
    # Whether a request may have reached the platform (reconcile before posting again).
    attempted: bool = False
    attempts: int = 0
    # A deferred retry is not released before this moment.
    not_before: datetime | None = None
    performed_at: datetime | None = None


@dataclass
class Share:
    id: str
    tenant: str
    advocate: str
    content_id: str
    created_at: datetime
    networks: dict[Network, NetworkShare]
    scheduled_at: datetime | None = None
    # Whether some network waits for a moment (scheduled, or a deferred retry).
    scheduled: bool = False
    auto: bool = False

    def posts_counted(self) -> list[datetime]:
        """When each of its posts counts against the posting frequency: every
        network that did not fail, at the moment it was performed (or asked for)."""
        return [
            entry.performed_at or self.created_at
            for entry in self.networks.values()
            if entry.status is not Status.FAILED
        ]

    def due_at(self, network: Network) -> datetime | None:
        return self.networks[network].not_before or self.scheduled_at


@dataclass(frozen=True)
class Member:
    """An advocate as content last announced them."""

    enrolled: bool
    policy_version: int = 0
    auto_share: bool = False
    groups: tuple[str, ...] = ()
    department: str = ""
    location: str = ""
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostingRules:
    """The programme's rules for posting, as content last announced them."""

    policy_version: int = 0
    disclosure: str = ""
    auto_append: bool = False
    per_day: int = 1 << 30
    per_week: int = 1 << 30
    hard_limit: bool = False
