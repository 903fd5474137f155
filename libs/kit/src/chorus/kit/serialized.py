"""Single-document updates, serialized per document within this process.

Measured here: FerretDB 1.24 reads a document and writes it back in separate
steps, so concurrent updates of one document lose writes (300 concurrent $inc
of one counter ended at 21; 50 concurrent compare-and-set updates had 2
winners). Every single-document write (by `_id`) through this wrapper holds a
lock for that document, so the outbox relay, consumers and API handlers of one
process never interleave on the same document. Replicas still can: see the
README's note on FerretDB (run MongoDB, or keep one writer per document).
"""

from __future__ import annotations

import asyncio
from typing import Any

_WRITES = (
    "update_one",
    "replace_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "delete_one",
)


class _Stripes:
    """A bounded set of locks: a document maps to one of them by hash."""

    def __init__(self, stripes: int = 4096) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks[hash(key) % len(self._locks)]


class SerializedCollection:
    def __init__(self, collection: Any, stripes: _Stripes) -> None:
        self._collection = collection
        self._stripes = stripes

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if name not in _WRITES:
            return attribute

        async def serialized(filter: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            key = filter.get("_id") if isinstance(filter, dict) else None
            if key is None or isinstance(key, dict):
                return await attribute(filter, *args, **kwargs)
            async with self._stripes.lock((self._collection.name, str(key))):
                return await attribute(filter, *args, **kwargs)

        return serialized


class SerializedDatabase:
    def __init__(self, db: Any) -> None:
        self._db = db
        self._stripes = _Stripes()

    def __getitem__(self, name: str) -> Any:
        return SerializedCollection(self._db[name], self._stripes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
