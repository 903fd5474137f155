"""The engine's working state: one document per advocate in MongoDB holding
their AdvocateState — points, badges, the ids of counted events (dedupe) and
the source offset of the last event applied, per topic.

State and the offsets it includes are one document, written in one go: after
a crash, a rebalance or a zombie worker, an event is applied at most once
whichever worker sees it again (offset at or below the stored one: already
in; a redelivered id: a duplicate). No worker keeps state between batches, so
a partition changes owner with nothing to recover or hand over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from chorus.gamification.domain.scoring import AdvocateState
from chorus.kit.mongo import bulk_write_new


class EngineStates:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._states = db["engine_states"]

    async def load(self, keys: Iterable[str]) -> dict[str, AdvocateState]:
        """The stored state of each "<tenant>:<advocate>" key (one query)."""
        wanted = list(set(keys))
        found = {
            doc["_id"]: AdvocateState.from_json(doc["state"])
            async for doc in self._states.find({"_id": {"$in": wanted}})
        }
        return {key: found.get(key) or AdvocateState() for key in wanted}

    async def save(self, states: Mapping[tuple[str, str], AdvocateState]) -> None:
        """One unordered bulk write; a newer state already stored (a faster
        worker after a rebalance) is kept: its upsert collides on _id."""
        await bulk_write_new(
            self._states,
            [
                ReplaceOne(
                    {"_id": f"{tenant}:{advocate}", "version": {"$lt": state.version}},
                    {
                        "_id": f"{tenant}:{advocate}",
                        "version": state.version,
                        "state": state.to_json(),
                    },
                    upsert=True,
                )
                for (tenant, advocate), state in states.items()
            ],
        )
