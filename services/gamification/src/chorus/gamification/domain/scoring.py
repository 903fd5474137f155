"""One advocate's score as a pure state machine: apply an activity or a
lifecycle change, get the new state and what was awarded.

The ids of counted events live in the same state as the points, so the
engine stores both in one document write: a redelivered event is recognised
however the stream was interrupted. Ids are kept per event day for
DEDUPE_DAYS behind the newest day seen, as 9-byte digests packed into one
bytes value per day (a few bytes per event, in memory and in MongoDB); an
event older than that cannot be told from a duplicate and is refused as too
late.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from chorus.gamification.domain import badges
from chorus.gamification.domain.periods import PeriodKind, period_of
from chorus.gamification.domain.rules import Action, RuleSet

DEDUPE_DAYS = 35
DIGEST_BYTES = 9
MAX_REMEMBERED_CONTENT = 500
MAX_SHARE_WEEKS = 104
SCORED_PERIODS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER)


@dataclass(frozen=True)
class Activity:
    """A share or an engagement observation, normalised for scoring."""

    event_id: str
    action: Action
    network: str
    units: int
    content_id: str
    occurred_at: datetime
    tags: tuple[str, ...] = ()


class Status(StrEnum):
    COUNTED = "counted"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Outcome:
    status: Status
    points: int = 0
    new_badges: tuple[str, ...] = ()
    rules_version: int = 0


def event_digest(event_id: str) -> bytes:
    """9 bytes instead of a 36-character UUID: one collision in about 10^21."""
    return hashlib.blake2b(event_id.encode(), digest_size=DIGEST_BYTES).digest()


def _holds(packed: bytes, digest: bytes) -> bool:
    """Whether `digest` is one of the digests packed end to end in `packed`."""
    at = packed.find(digest)
    while at != -1:
        if at % DIGEST_BYTES == 0:
            return True
        at = packed.find(digest, at + 1)
    return False


@lru_cache(maxsize=4096)
def _calendar(day: date) -> tuple[str, tuple[str, ...]]:
    """The day's name and the "<kind>:<period>" buckets it counts in."""
    moment = datetime(day.year, day.month, day.day)
    return day.isoformat(), tuple(f"{kind}:{period_of(kind, moment)}" for kind in SCORED_PERIODS)


@dataclass(slots=True)
class AdvocateState:
    lifetime: int = 0
    periods: dict[str, int] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    share_weeks: list[str] = field(default_factory=list)
    badges: dict[str, str] = field(default_factory=dict)
    # Digests of counted event ids, packed per event day (see _holds).
    seen: dict[str, bytes] = field(default_factory=dict)
    content_tags: dict[str, list[str]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    active: bool = True
    left_at: str = ""
    # Offset of the last event that changed this state, per source topic.
    offsets: dict[str, int] = field(default_factory=dict)
    # Derived from share_weeks, kept so that badges need not recount it per event.
    streak: int = 0

    @property
    def version(self) -> int:
        """Grows with every change and is the same whenever the same events were
        applied (offsets only grow within a partition): the read model keeps the
        highest version, so a replay after a crash never overwrites newer data
        with older, however differently it batches the events."""
        return sum(offset + 1 for offset in self.offsets.values())

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AdvocateState:
        """A copy: changing it never changes `data` (the stored value)."""
        if not data:
            return cls()
        return cls(**{name: _copy(value) for name, value in data.items() if name in _FIELDS})

    def points_in(self, kind: PeriodKind, period: str) -> int:
        return (
            self.lifetime
            if kind is PeriodKind.ALL_TIME
            else self.periods.get(f"{kind}:{period}", 0)
        )

    # -- activity ---------------------------------------------------------

    def apply(self, activity: Activity, rules: RuleSet) -> Outcome:
        if self.left_at and activity.occurred_at <= datetime.fromisoformat(self.left_at):
            return Outcome(Status.IGNORED)
        if activity.units <= 0:
            return Outcome(Status.IGNORED)
        when = activity.occurred_at
        day, buckets = _calendar((when if when.tzinfo is UTC else when.astimezone(UTC)).date())
        digest = event_digest(activity.event_id)
        packed = self.seen.get(day)
        if packed is not None and _holds(packed, digest):
            return Outcome(Status.DUPLICATE)
        if packed is None:
            if self.seen and day < _horizon(max(self.seen)):
                return Outcome(Status.TOO_LATE)
            self.seen[day] = digest
            if day == max(self.seen):  # a new newest day moves the horizon
                self._forget_before(_horizon(day))
        else:
            self.seen[day] = packed + digest

        tags = self._tags_for(activity)
        points = rules.points_for(
            activity.action,
            activity.network,
            activity.units,
            activity.content_id,
            tags,
            activity.occurred_at,
        )
        points = self._within_cap(rules, activity.action, day, points)
        self.lifetime += points
        periods = self.periods
        for bucket in buckets:
            periods[bucket] = periods.get(bucket, 0) + points
        self.counts[activity.action] = self.counts.get(activity.action, 0) + activity.units
        if activity.action is Action.SHARE:
            week = buckets[0].partition(":")[2]
            if week not in self.share_weeks:
                self.share_weeks = sorted([*self.share_weeks, week])[-MAX_SHARE_WEEKS:]
                self.streak = badges.longest_streak(self.share_weeks)
        new_badges = self._award_badges(rules, activity.occurred_at)
        return Outcome(Status.COUNTED, points, new_badges, rules.version)

    def _tags_for(self, activity: Activity) -> Sequence[str]:
        """Engagement events carry no tags: use those of the advocate's share of the item."""
        if activity.tags:
            self.content_tags[activity.content_id] = list(activity.tags)
            while len(self.content_tags) > MAX_REMEMBERED_CONTENT:
                del self.content_tags[next(iter(self.content_tags))]
            return activity.tags
        return self.content_tags.get(activity.content_id, ())

    def _within_cap(self, rules: RuleSet, action: Action, day: str, points: int) -> int:
        cap = rules.daily_caps.get(action)
        if cap is None:
            return points
        key = f"{day}:{action}"
        used = self.capped.get(key, 0)
        granted = max(0, min(points, cap - used))
        self.capped[key] = used + granted
        return granted

    def _award_badges(self, rules: RuleSet, at: datetime) -> tuple[str, ...]:
        earned = badges.earned(self.counts, self.streak, rules.badges)
        if earned.issubset(self.badges):
            return ()
        fresh = sorted(earned.difference(self.badges))
        for badge in fresh:
            self.badges[badge] = at.isoformat()
        return tuple(fresh)

    def _forget_before(self, horizon: str) -> None:
        self.seen = {day: ids for day, ids in self.seen.items() if day >= horizon}
        self.capped = {key: used for key, used in self.capped.items() if key[:10] >= horizon}

    # -- lifecycle ----------------------------------------------------------

    def enrolled(self, groups: Sequence[str]) -> None:
        self.active = True
        self.groups = sorted(set(groups))

    @classmethod
    def left(cls, at: datetime, offsets: dict[str, int]) -> AdvocateState:
        """Opt-out or erasure: everything is forgotten; only the moment of leaving
        stays, so that late events from before it cannot bring points back."""
        return cls(active=False, left_at=at.isoformat(), offsets=dict(offsets))


_FIELDS = AdvocateState.__slots__


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _horizon(newest_day: str) -> str:
    return (date.fromisoformat(newest_day) - timedelta(days=DEDUPE_DAYS)).isoformat()
