"""Ranking: most points first; ties broken by advocate id, so every rank is
unique and the same standings always give the same board."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from chorus.gamification.domain.periods import PeriodKind


class Scored(Protocol):
    @property
    def advocate(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...
    def points_in(self, kind: PeriodKind, period: str) -> int: ...


@dataclass(frozen=True)
class Entry:
    rank: int
    advocate: str
    points: int


def ranked(
    standings: Iterable[Scored], kind: PeriodKind, period: str, group: str = ""
) -> list[Entry]:
    """Everyone with points in the period (and in the group, if one is given)."""
    scored = [
        (standing.points_in(kind, period), standing.advocate)
        for standing in standings
        if not group or group in standing.groups
    ]
    scored = [(points, advocate) for points, advocate in scored if points > 0]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [Entry(rank, advocate, points) for rank, (points, advocate) in enumerate(scored, 1)]
