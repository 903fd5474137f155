"""Each advocate's score as one MongoDB document in `standings`: at the top
what the API serves (groups, points, badges), under `engine` what the engine
needs to go on (the dedupe digests, caps, counts, and the source offset of the
last event applied, per topic).

One document means one write per advocate per batch, and the read model can
never disagree with the state it came from. After a crash, a rebalance or a
zombie worker an event is applied at most once whichever worker sees it again
(offset at or below the stored one: already in; a redelivered id: a
duplicate). Writes are guarded by the state's version: a newer document
already stored (a faster worker after a rebalance) stays, as its upsert
collides on _id. No worker keeps state between batches, so a partition
changes owner with nothing to recover or hand over.

Writes set the engine's fields and leave the others: `withdrawn` belongs to
the control consumer, which hides an advocate who left the moment they leave,
however far behind the engine is (Standings.withdraw).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from chorus.gamification.domain.scoring import AdvocateState
from chorus.kit.mongo import bulk_write_new
from chorus.kit.topics import advocate_key

COLLECTION = "standings"
# The state's fields the API reads, kept at the top of the document.
READ_MODEL = ("groups", "lifetime", "periods", "badges", "active", "share_weeks")


class EngineStates:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._states = db[COLLECTION]

    async def load(self, keys: Iterable[str]) -> dict[str, AdvocateState]:
        """The stored state of each "<tenant>:<advocate>" key (one query)."""
        wanted = list(set(keys))
        found = {
            doc["_id"]: _state(doc)
            async for doc in self._states.find({"_id": {"$in": wanted}}, {"tenant": 0})
        }
        return {key: found.get(key) or AdvocateState() for key in wanted}

    async def save(self, states: Mapping[tuple[str, str], AdvocateState]) -> None:
        """One unordered bulk write of every changed state. An upsert whose
        insert collided is tried once more: the control consumer may have
        created the document (version 0) in between, and MongoDB retries only
        upserts filtered by equality alone. A second collision means a newer
        version is stored."""
        writes = [
            UpdateOne(
                {"_id": advocate_key(tenant, advocate), "version": {"$lt": state.version}},
                {"$set": _document(tenant, advocate, state)},
                upsert=True,
            )
            for (tenant, advocate), state in states.items()
        ]
        collided = await bulk_write_new(self._states, writes)
        await bulk_write_new(self._states, [writes[index] for index in collided])


def _document(tenant: str, advocate: str, state: AdvocateState) -> dict[str, Any]:
    fields = state.to_json()
    doc = {"tenant": tenant, "advocate": advocate}
    doc |= {name: fields.pop(name) for name in READ_MODEL}
    return doc | {"version": state.version, "engine": fields}


def _state(doc: Mapping[str, Any]) -> AdvocateState:
    return AdvocateState.from_json(
        {**doc.get("engine", {}), **{name: doc[name] for name in READ_MODEL if name in doc}}
    )
