"""MongoDB through PyMongo's async API (Motor is deprecated)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from chorus.kit.settings import ServiceSettings

Document = dict[str, Any]


def mongo_client(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongo_url,
        appname=f"chorus-{settings.service_name}",
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
    )


DUPLICATE_KEY = 11000


async def bulk_write_new(
    collection: AsyncCollection[Document],
    operations: Sequence[InsertOne[Document] | ReplaceOne[Document] | UpdateOne],
) -> list[int]:
    """One unordered bulk write in which an `_id` collision means "already
    there" (a redelivery, or a newer version guarded by the filter) and is not
    an error; every other failure is raised. Returns the indexes of the
    operations that collided."""
    if not operations:
        return []
    try:
        await collection.bulk_write(list(operations), ordered=False)
    except BulkWriteError as error:
        details = error.details
        errors = details.get("writeErrors", [])
        if details.get("writeConcernErrors") or any(e["code"] != DUPLICATE_KEY for e in errors):
            raise
        return [int(e["index"]) for e in errors]
    return []
