"""Scoring rules per tenant, versioned: points per action and network, daily
caps against gaming, campaign multipliers, badge thresholds.

A rule set applies from its `effective_from` on; every event is scored by the
version in force at the event's own time, so history is never rewritten.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ANY_NETWORK = "default"


class Action(StrEnum):
    SHARE = "share"
    CLICK = "click"
    UNIQUE_CLICK = "unique_click"
    REACTION = "reaction"
    COMMENT = "comment"
    RESHARE = "reshare"


Points = Annotated[int, Field(ge=0, le=1_000_000)]
# A content id, a tag or a network name ("default": any network) in a rule.
Name = Annotated[str, Field(min_length=1, max_length=200)]
PointsByNetwork = Annotated[dict[Name, Points], Field(max_length=20)]


class Multiplier(BaseModel):
    """A campaign: events on the given items or tags within the window earn factor x points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    factor: float = Field(gt=0, le=10)
    starts_at: datetime
    ends_at: datetime
    content_ids: frozenset[Name] = Field(default=frozenset(), max_length=1000)
    tags: frozenset[Name] = Field(default=frozenset(), max_length=100)

    @model_validator(mode="after")
    def _window_and_target(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if not self.content_ids and not self.tags:
            raise ValueError("name at least one content id or tag")
        return self

    def applies(self, content_id: str, tags: Sequence[str], at: datetime) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        return content_id in self.content_ids or not self.tags.isdisjoint(tags)


class BadgeRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    streak_weeks: int = Field(default=4, ge=2, le=52)
    conversation_comments: int = Field(default=10, ge=1, le=100_000)
    top_n: int = Field(default=3, ge=1, le=100)


def _default_points() -> dict[Action, dict[str, int]]:
    return {
        Action.SHARE: {ANY_NETWORK: 10},
        Action.CLICK: {ANY_NETWORK: 1},
        Action.UNIQUE_CLICK: {ANY_NETWORK: 2},
        Action.REACTION: {ANY_NETWORK: 1},
        Action.COMMENT: {ANY_NETWORK: 3},
        Action.RESHARE: {ANY_NETWORK: 5},
    }


class RuleSet(BaseModel):
    """What admins set; `version` and `effective_from` are assigned on save."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(default=0, ge=0)
    effective_from: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    points: dict[Action, PointsByNetwork] = Field(
        default_factory=_default_points, max_length=len(Action)
    )
    daily_caps: dict[Action, Points] = Field(
        default_factory=lambda: {Action.CLICK: 100, Action.UNIQUE_CLICK: 100},
        max_length=len(Action),
    )
    multipliers: tuple[Multiplier, ...] = Field(default=(), max_length=100)
    badges: BadgeRules = BadgeRules()

    def unit_points(self, action: Action, network: str) -> int:
        table = self.points.get(action, {})
        return table.get(network, table.get(ANY_NETWORK, 0))

    def points_for(
        self,
        action: Action,
        network: str,
        units: int,
        content_id: str,
        tags: Sequence[str],
        at: datetime,
    ) -> int:
        """Points before caps. Overlapping campaigns do not stack: the best applies."""
        factor = max(
            (m.factor for m in self.multipliers if m.applies(content_id, tags, at)), default=1.0
        )
        return round(self.unit_points(action, network) * units * factor)


DEFAULT_RULES = RuleSet()


class RuleHistory:
    """A tenant's rule versions in order of `effective_from`."""

    def __init__(self, versions: Sequence[RuleSet] = ()) -> None:
        self._versions = sorted(versions, key=lambda rules: rules.effective_from)
        self._starts = [rules.effective_from for rules in self._versions]

    def at(self, moment: datetime) -> RuleSet:
        index = bisect.bisect_right(self._starts, moment) - 1
        return self._versions[index] if index >= 0 else DEFAULT_RULES

    @property
    def latest(self) -> RuleSet:
        return self._versions[-1] if self._versions else DEFAULT_RULES
