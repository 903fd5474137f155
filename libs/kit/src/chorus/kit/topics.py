"""Every Kafka topic Chorus uses: its name, key, message type and sizing.

The one place topic names live in Python; it mirrors the comments on the event
messages in proto/. Topics keyed by "<tenant>:<advocate>" share one partition
count so that they are co-partitioned (gamification joins them without re-keying).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from google.protobuf.message import Message

from chorus.contracts.content.v1 import events_pb2 as content_events
from chorus.contracts.distribution.v1 import events_pb2 as distribution_events
from chorus.contracts.engagement.v1 import events_pb2 as engagement_events
from chorus.contracts.engagement.v1 import journal_pb2 as engagement_journal
from chorus.contracts.gamification.v1 import events_pb2 as gamification_events

ADVOCATE_PARTITIONS = 12
CONTENT_PARTITIONS = 6
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    message_type: type[Message]
    key: str
    partitions: int
    retention_ms: int = WEEK_MS
    compacted: bool = False

    @functools.cached_property  # asked for every record encoded or decoded
    def event_type(self) -> str:
        """The CloudEvents ce_type of every event on this topic."""
        return self.message_type.DESCRIPTOR.full_name


CONTENT_APPROVED = Topic(
    "content.approved", content_events.ContentApproved, "<tenant>:<content_id>", CONTENT_PARTITIONS
)
CONTENT_RETRACTED = Topic(
    "content.retracted",
    content_events.ContentRetracted,
    "<tenant>:<content_id>",
    CONTENT_PARTITIONS,
)
ADVOCATE_LIFECYCLE = Topic(
    "advocate.lifecycle",
    content_events.AdvocateLifecycle,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
SHARE_PERFORMED = Topic(
    "share.performed",
    distribution_events.SharePerformed,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
SHARE_FAILED = Topic(
    "share.failed", distribution_events.ShareFailed, "<tenant>:<advocate>", ADVOCATE_PARTITIONS
)
ENGAGEMENT_OBSERVED = Topic(
    "engagement.observed",
    engagement_events.EngagementObserved,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
POINTS_AWARDED = Topic(
    "points.awarded",
    gamification_events.PointsAwarded,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
BADGE_EARNED = Topic(
    "badge.earned", gamification_events.BadgeEarned, "<tenant>:<advocate>", ADVOCATE_PARTITIONS
)

PROGRAM_CHANGED = Topic(
    "program.changed", content_events.ProgramChanged, "<tenant>", CONTENT_PARTITIONS
)
SHARE_REQUESTED = Topic(
    "share.requested",
    distribution_events.ShareRequested,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
ACCOUNT_HEALTH = Topic(
    "account.health",
    distribution_events.AccountHealthChanged,
    "<tenant>:<advocate>",
    ADVOCATE_PARTITIONS,
)
RULES_CHANGED = Topic(
    "gamification.rules-changed", gamification_events.RulesChanged, "<tenant>", CONTENT_PARTITIONS
)
ENGAGEMENT_JOURNAL_CHECKPOINTS = Topic(
    "engagement.journal-checkpoints",
    engagement_journal.JournalCheckpoint,
    "<instance>",
    1,
    compacted=True,
)

ALL_TOPICS: tuple[Topic, ...] = (
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    ADVOCATE_LIFECYCLE,
    PROGRAM_CHANGED,
    SHARE_REQUESTED,
    ACCOUNT_HEALTH,
    SHARE_PERFORMED,
    SHARE_FAILED,
    ENGAGEMENT_OBSERVED,
    POINTS_AWARDED,
    BADGE_EARNED,
    RULES_CHANGED,
    ENGAGEMENT_JOURNAL_CHECKPOINTS,
)

# Control events change what people may see or do at once: a retraction, an
# opt-out or erasure, the programme's settings. Each service consumes them in a
# group of its own (`<service>-control`), so they never queue behind a backlog
# of bulk events (shares, engagement) in the service's main group.
CONTROL_TOPICS: tuple[Topic, ...] = (CONTENT_RETRACTED, ADVOCATE_LIFECYCLE, PROGRAM_CHANGED)


def control_group(service: str) -> str:
    return f"{service}-control"


# Consumer groups; each has its own dead-letter topic.
CONSUMER_GROUPS: tuple[str, ...] = (
    "content",
    "distribution",
    control_group("distribution"),
    "engagement",
    control_group("engagement"),
    "gamification",
    control_group("gamification"),
    "insights",
    control_group("insights"),
)
DEAD_LETTER_RETENTION_MS = 4 * WEEK_MS


def dead_letter_topic(group: str) -> str:
    """The dead-letter topic of a consumer group: `dlq.<group>`.

    One per consuming service (not per source topic): the origin topic, partition
    and offset ride in headers, so a replay tool can route each record back.
    """
    return f"dlq.{group}"


def advocate_key(tenant: str, advocate: str) -> str:
    return f"{tenant}:{advocate}"


@functools.cache
def by_name(name: str) -> Topic:
    """The registry's topic of that name (looked up for every record consumed)."""
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"unknown topic {name!r}")
