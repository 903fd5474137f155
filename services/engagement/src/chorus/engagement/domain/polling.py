"""Metric polling (pure): a decaying schedule and deltas against what was
already counted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

SCHEDULE = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
    timedelta(days=3),
    timedelta(days=7),
)


def next_poll_at(performed_at: datetime, polls_done: int) -> datetime | None:
    """When to poll next after `polls_done` polls; None once the schedule is over."""
    if polls_done >= len(SCHEDULE):
        return None
    return performed_at + SCHEDULE[polls_done]


def deltas(counted: Mapping[str, int], observed: Mapping[str, int]) -> dict[str, int]:
    """What is new since the last poll. Platforms sometimes report lower totals
    (a deleted like): those are not taken back, and not counted again later."""
    return {
        kind: total - counted.get(kind, 0)
        for kind, total in observed.items()
        if total > counted.get(kind, 0)
    }


def merged(counted: Mapping[str, int], observed: Mapping[str, int]) -> dict[str, int]:
    return {
        kind: max(counted.get(kind, 0), observed.get(kind, 0)) for kind in {*counted, *observed}
    }
