"""Helpers for the gamification tests: the service as a real process, and
events published straight through aiokafka (fast, with chosen event ids)."""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind, EngagementObserved
from chorus.gamification.adapters.events import INPUT_TOPICS
from chorus.kit.envelope import OutgoingRecord, encode
from chorus.kit.topics import ADVOCATE_LIFECYCLE, ENGAGEMENT_OBSERVED, SHARE_PERFORMED, Topic
from chorus_testing import eventually, start_service, unique

EXECUTABLE = ".venv/bin/chorus-gamification"


def worker_env(
    *, database: str, http_port: int, app_id: str, kafka: str, mongo: str
) -> dict[str, str]:
    return {
        **os.environ,
        "CHORUS_KAFKA_BOOTSTRAP": kafka,
        "CHORUS_MONGO_URL": mongo,
        "CHORUS_MONGO_DATABASE": database,
        "CHORUS_HTTP_PORT": str(http_port),
        "CHORUS_GRPC_PORT": "0",
        "CHORUS_ENGINE_APP_ID": app_id,
        "CHORUS_LEADERBOARD_CACHE_SECONDS": "0",
        "CHORUS_LOG_LEVEL": "WARNING",
    }


async def metric(http_port: int, name: str) -> float:
    # A worker scoring a 10,000-event batch can hold its event loop for seconds
    # on a slow machine: wait for the answer rather than fail the poll.
    async with httpx.AsyncClient(timeout=60) as client:
        text = (await client.get(f"http://127.0.0.1:{http_port}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


async def start_group_at_end(
    bootstrap: str, group: str, topics: Sequence[Topic] = INPUT_TOPICS
) -> None:
    """Commit the group's offsets at the current end of the input topics: the
    shared topics hold other tests' events. (Not "latest" offset reset: a
    worker killed before its first commit on a partition would make its
    successor jump to the end and skip what was sent meanwhile.)"""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic.name, partition)
            for topic in topics
            for partition in range(topic.partitions)
        ]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def start_worker(
    env: dict[str, str], timeout: float = 60, *, restart: bool = False
) -> asyncio.subprocess.Process:
    """The service process, once ready and owning its partitions. A new worker's
    group starts at the end of the topics; a restart continues where its
    group committed (and waits for the group to drop a killed member and
    for table recovery)."""
    port = int(env["CHORUS_HTTP_PORT"])
    if not restart:
        await start_group_at_end(env["CHORUS_KAFKA_BOOTSTRAP"], env["CHORUS_ENGINE_APP_ID"])
    process = await start_service(EXECUTABLE, env, port, timeout=timeout)

    async def assigned() -> bool:
        return await metric(port, "chorus_consumer_assigned_partitions") > 0

    await eventually(assigned, timeout=timeout, interval=0.5)
    return process


def share(
    tenant: str, advocate: str, when: datetime, *, tags: Sequence[str] = ()
) -> OutgoingRecord:
    message = SharePerformed(
        tenant=tenant,
        advocate=advocate,
        share_id=unique("s"),
        content_id="c-1",
        network=1,
        tags=tags,
    )
    message.performed_at.FromDatetime(when)
    return encode(SHARE_PERFORMED, f"{tenant}:{advocate}", message, source="/test", time=when)


def engagement(
    tenant: str, advocate: str, kind: int, delta: int, when: datetime, content_id: str = "c-1"
) -> OutgoingRecord:
    message = EngagementObserved(
        tenant=tenant,
        advocate=advocate,
        observation_id=unique("o"),
        kind=kind,  # type: ignore[arg-type]
        delta=delta,
        share_id="s-1",
        content_id=content_id,
        network=1,
    )
    message.observed_at.FromDatetime(when)
    return encode(ENGAGEMENT_OBSERVED, f"{tenant}:{advocate}", message, source="/test", time=when)


def lifecycle(
    tenant: str, advocate: str, change: int, when: datetime, groups: Sequence[str] = ()
) -> OutgoingRecord:
    message = AdvocateLifecycle(
        tenant=tenant,
        advocate=advocate,
        change=change,  # type: ignore[arg-type]
        groups=groups,
    )
    message.occurred_at.FromDatetime(when)
    return encode(ADVOCATE_LIFECYCLE, f"{tenant}:{advocate}", message, source="/test", time=when)


async def send_records(bootstrap: str, records: Sequence[OutgoingRecord]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        for start in range(0, len(records), 5000):
            futures = [
                await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                for r in records[start : start + 5000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


DUPLICATES = 0.05
# Default rules; clicks stay under their daily cap by construction (<= 15 a day).
UNIT_POINTS = {"share": 10, "click": 1, "reaction": 1, "comment": 3, "reshare": 5}
KINDS = {
    "click": EngagementKind.ENGAGEMENT_KIND_CLICK,
    "reaction": EngagementKind.ENGAGEMENT_KIND_REACTION,
    "comment": EngagementKind.ENGAGEMENT_KIND_COMMENT,
    "reshare": EngagementKind.ENGAGEMENT_KIND_RESHARE,
}


SOURCE_PARTITIONS = 24  # share.performed and engagement.observed, 12 each


async def source_lag(port: int) -> float | None:
    """The engine's lag over its source partitions; None until it has reported
    every one (a sum over partitions not reported yet would read as 0)."""
    async with httpx.AsyncClient(timeout=60) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    lags = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("chorus_consumer_lag{")
        and ('topic="share.performed"' in line or 'topic="engagement.observed"' in line)
    ]
    return sum(lags) if len(lags) >= SOURCE_PARTITIONS else None


def iso_week_index(when: datetime) -> int:
    return (when.date().toordinal() - when.weekday()) // 7


def expected_badges(shares: list[datetime], comments: int) -> set[str]:
    badges = {
        name
        for name, n in (("first-share", 1), ("shares-10", 10), ("shares-50", 50))
        if len(shares) >= n
    }
    if comments >= 10:
        badges.add("conversation-starter")
    weeks = sorted({iso_week_index(when) for when in shares})
    run = best = 0
    for i, week in enumerate(weeks):
        run = run + 1 if i and week == weeks[i - 1] + 1 else 1
        best = max(best, run)
    if best >= 4:
        badges.add("streak-4w")
    return badges


def workload(
    tenant: str, events: int, advocates: int
) -> tuple[list[OutgoingRecord], dict[str, int], dict[str, set[str]]]:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    records, totals = [], defaultdict(int)
    shares: dict[str, list[datetime]] = defaultdict(list)
    comments: dict[str, int] = defaultdict(int)
    per_advocate_day: dict[tuple[str, str], int] = defaultdict(int)
    for n in range(events):
        advocate = f"adv-{n % advocates:04d}"
        when = now - timedelta(days=rng.randrange(28), seconds=rng.randrange(86_400))
        if rng.random() < 0.15:
            records.append(share(tenant, advocate, when))
            totals[advocate] += UNIT_POINTS["share"]
            shares[advocate].append(when)
            continue
        action = rng.choice(list(KINDS))
        delta = rng.randint(1, 3)
        if action == "click":
            day = (advocate, when.date().isoformat())
            if per_advocate_day[day] + delta > 100:
                continue
            per_advocate_day[day] += delta
        if action == "comment":
            comments[advocate] += delta
        records.append(engagement(tenant, advocate, KINDS[action], delta, when))
        totals[advocate] += UNIT_POINTS[action] * delta
    badges = {a: expected_badges(shares[a], comments[a]) for a in totals}
    redelivered = rng.sample(records, int(len(records) * DUPLICATES))
    stream = records + redelivered
    rng.shuffle(stream)
    return stream, dict(totals), badges
