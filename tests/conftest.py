"""Shared fixtures for the cross-service tests: they need the real local stack.

Missing infrastructure fails the run (never skips): start it with `make stack-up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from chorus.kit.admin import TopicSpec, ensure_topics
from chorus.kit.topics import ALL_TOPICS, Topic
from chorus.kit.tracing import configure_tracing
from chorus_testing import SERVICE_GROUPS

KAFKA = os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGO = os.environ.get("CHORUS_MONGO_URL", "mongodb://127.0.0.1:27017")
KEYCLOAK = os.environ.get("CHORUS_KEYCLOAK_URL", "http://127.0.0.1:8180")
# Debian's chromium (the browser tests drive it: no browser download).
CHROMIUM = os.environ.get("CHORUS_CHROMIUM", "/usr/lib/chromium/chromium")


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


# The consumer groups of the services `make run` starts.
MAKE_RUN_GROUPS = (*SERVICE_GROUPS, "chorus-gamification")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave `make run`'s consumer groups at the end of the topics: the events the
    tests produced (hundreds of thousands, for other tenants) must not become a
    backlog the local demo chews through for minutes before it scores its own."""
    if not _reachable(KAFKA):
        return
    from gamification_support import start_group_at_end

    async def past_the_tests() -> None:
        for group in MAKE_RUN_GROUPS:
            # A group with live members (make run is up) refuses outside commits: fine.
            with contextlib.suppress(Exception):
                await start_group_at_end(KAFKA, group, ALL_TOPICS)

    asyncio.run(past_the_tests())


@pytest.fixture(scope="session", autouse=True)
def tracing() -> None:
    """Services built in-process trace as they do under their main()."""
    configure_tracing("chorus-tests")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(KAFKA):
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make stack-up` first")
    return KAFKA


@pytest.fixture(scope="session")
def oidc_issuer() -> str:
    """The local stack's identity provider (Keycloak), its demo realm imported."""
    issuer = f"{KEYCLOAK}/realms/chorus"
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=5):
            pass
    except OSError:
        pytest.fail(f"Keycloak does not serve {issuer}: run `make stack-up` first")
    return issuer


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no browser at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    return CHROMIUM


@pytest.fixture(scope="session")
def mongo_url() -> str:
    host_port = MONGO.split("://", 1)[1].split("/", 1)[0].split("@")[-1]
    if not _reachable(host_port):
        pytest.fail(f"MongoDB is not reachable at {MONGO}: run `make stack-up` first")
    with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
        hello = client.admin.command("hello")
    if not hello.get("setName") or not hello.get("isWritablePrimary"):
        pytest.fail(f"MongoDB at {MONGO} is not the primary of a replica set: run `make stack-up`")
    return MONGO


@pytest.fixture
async def mongo_db(mongo_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    name = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


TopicFactory = Callable[..., Awaitable[Topic]]


@pytest.fixture
def fresh_topic(kafka_bootstrap: str) -> TopicFactory:
    """A uniquely named copy of a registry topic, so tests never see each other's events."""

    async def make(template: Topic, partitions: int = 1) -> Topic:
        topic = replace(
            template, name=f"test.{template.name}.{uuid.uuid4().hex[:10]}", partitions=partitions
        )
        await ensure_topics(kafka_bootstrap, [TopicSpec(topic.name, partitions, 3_600_000)])
        return topic

    return make


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    """The platform simulator (LinkedIn and X APIs) in its own process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    executable = Path(sys.executable).with_name("chorus-simulator")
    process = subprocess.Popen([str(executable), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not _reachable(f"127.0.0.1:{port}"):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the platform simulator did not start")
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
