"""Helpers for the cross-service tests (on the pytest pythonpath)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo import AsyncMongoClient

from chorus.kit.admin import TopicSpec, ensure_topics
from chorus.kit.auth import dev_authorization
from chorus.kit.runtime import ServiceRuntime
from chorus.kit.topics import CONSUMER_GROUPS, dead_letter_topic

T = TypeVar("T")

# ASGI's callables, for the small servers tests run (a span receiver, a JWKS).
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# The services' kit consumer groups, bulk and control, under their real names
# (the scoring engine's group is its app id, "chorus-gamification" by default).
SERVICE_GROUPS = tuple(group for group in CONSUMER_GROUPS if group != "gamification")

# For services a test clicks or calls from one address faster than any person:
# the per-client limit of the public routes is still checked, never reached.
UNLIMITED_PUBLIC_ROUTES = {
    "CHORUS_PUBLIC_RATE_PER_SECOND": "1000000",
    "CHORUS_PUBLIC_RATE_BURST": "1000000",
}


def in_process(kafka: str, mongo_url: str, name: str) -> dict[str, Any]:
    """Settings of a service started in the test's process: the local stack,
    a database of its own, ports the system picks."""
    return {
        "kafka_bootstrap": kafka,
        "mongo_url": mongo_url,
        "mongo_database": unique(f"test_{name}").replace("-", "_"),
        "http_port": 0,
        "grpc_port": 0,
    }


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never the same twice in a run: the kernel
    may offer a port again before the process it went to has bound it (two
    services were once given one port, and one of them failed to start)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_dead_letter_topic(bootstrap: str, group: str) -> str:
    name = dead_letter_topic(group)
    await ensure_topics(bootstrap, [TopicSpec(name, 1, 3_600_000)])
    return name


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Where each partition of `topic` ends now: read_topic(since=...) starts there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def group_caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """Has `group` committed every partition of `topic` up to its end?"""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        for partition, end in ends.items():
            committed = await consumer.committed(TopicPartition(topic, partition))
            if end and (committed or 0) < end:
                return False
        return True
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout: float = 30.0,
    since: dict[int, int] | None = None,
    where: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda record: True,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records on `topic` (from the beginning, or from `since`) that satisfy
    `where`, once at least `expect` of them arrived, plus any that follow within
    a short grace period (so duplicates show)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        partitions = None
        deadline = time.monotonic() + timeout
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} not found")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            if since and tp.partition in since:
                consumer.seek(tp, since[tp.partition])
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < expect:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for part in batch.values():
                records.extend(r for r in part if where(r))
        # A short grace period shows extra (duplicate) records too.
        batch = await consumer.getmany(timeout_ms=500)
        for part in batch.values():
            records.extend(r for r in part if where(r))
        return records
    finally:
        await consumer.stop()


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, interval: float = 0.1
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running(runtime: ServiceRuntime) -> AsyncIterator[ServiceRuntime]:
    """A service built by its composition root, started in this process."""
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def drop_database(mongo_url: str, name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(name)
    await client.close()


def bearer(tenant: str, subject: str, *roles: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
    return dev_authorization(tenant, subject, roles, groups)


async def publish(bootstrap: str, events: list[tuple[Any, str, Any]]) -> None:
    """Publish (topic, key, message) events through the real broker."""
    from chorus.kit.metrics import Metrics
    from chorus.kit.producer import EventProducer

    producer = EventProducer(bootstrap, source="/test", metrics=Metrics(), client_id="test")
    await producer.start()
    try:
        for topic, key, message in events:
            await producer.publish(topic, key, message)
    finally:
        await producer.stop()


async def mint_link(
    http: Any,
    kafka: str,
    tenant: str,
    *,
    content_id: str = "c-1",
    url: str = "https://acme.example/a",
    share_id: str = "s-1",
    network: str = "linkedin",
    advocate: str = "bob",
    topic_prefix: str = "",
) -> dict[str, Any]:
    """A tracked link for a share of a live item: the item's approval goes on
    content.approved as content would publish it (engagement mints links only
    to a live item's own URL), then the link is asked for until engagement
    knows the item."""
    from chorus.contracts.content.v1.events_pb2 import ContentApproved
    from chorus.kit.metrics import Metrics
    from chorus.kit.producer import EventProducer
    from chorus.kit.topics import CONTENT_APPROVED

    producer = EventProducer(
        kafka, source="/test", metrics=Metrics(), client_id="test", topic_prefix=topic_prefix
    )
    await producer.start()
    try:
        item = ContentApproved(tenant=tenant, content_id=content_id, title=content_id, url=url)
        await producer.publish(CONTENT_APPROVED, f"{tenant}:{content_id}", item)
    finally:
        await producer.stop()
    body = {"share_id": share_id, "network": network, "content_id": content_id, "url": url}

    async def created() -> dict[str, Any] | None:
        response = await http.post(
            "/v1/links", json=body, headers=bearer(tenant, advocate, "advocate")
        )
        if response.status_code == 409:  # not live for engagement yet
            return None
        assert response.status_code == 201, response.text
        return dict(response.json())

    return await eventually(created, timeout=30, interval=0.2)


async def start_service(
    executable: str, env: dict[str, str], http_port: int, timeout: float = 60
) -> asyncio.subprocess.Process:
    """A service as its own process, returned once its /readyz answers 200."""
    import httpx

    process = await asyncio.create_subprocess_exec(executable, env=env)

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{http_port}/readyz")
            return response.status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, timeout=timeout)
    return process
