"""MongoDB through PyMongo's async API (Motor is deprecated)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

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
