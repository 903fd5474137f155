"""Gamification: events scored per second by one worker, against the raw
aiokafka consume rate of the same records measured in the same run; latency
from produce to points visible through the API at a fixed rate; worker
memory holding many advocates' state.

    python bench/gamification_throughput.py [--events 50000] [--advocates 1000]
        [--rate 1000] [--rate-seconds 20] [--memory-advocates 100000]

Needs the local stack (make stack-up). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).parent))
from _load import free_port, python, start_process, stop_process, wait_http

from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.kit.auth import mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM
from chorus.kit.envelope import OutgoingRecord, encode
from chorus.kit.topics import ENGAGEMENT_OBSERVED, SHARE_PERFORMED

TOPICS = (SHARE_PERFORMED, ENGAGEMENT_OBSERVED)


def share(tenant: str, advocate: str) -> OutgoingRecord:
    message = SharePerformed(tenant=tenant, advocate=advocate, share_id=uuid.uuid4().hex, network=1)
    message.performed_at.GetCurrentTime()
    return encode(SHARE_PERFORMED, f"{tenant}:{advocate}", message, source="/bench")


def click(tenant: str, advocate: str, when: datetime) -> OutgoingRecord:
    message = EngagementObserved(tenant=tenant, advocate=advocate, kind=1, delta=1, network=1)
    message.observed_at.FromDatetime(when)
    return encode(ENGAGEMENT_OBSERVED, f"{tenant}:{advocate}", message, source="/bench")


async def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic.name, p) for topic in TOPICS for p in range(topic.partitions)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def send(producer: AIOKafkaProducer, records: list[OutgoingRecord]) -> None:
    for start in range(0, len(records), 5000):
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
            for r in records[start : start + 5000]
        ]
        await asyncio.gather(*futures)


async def raw_consume_rate(bootstrap: str, start: dict[TopicPartition, int], count: int) -> float:
    """The baseline: one aiokafka consumer reading exactly these records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        seen, began = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - began)
    finally:
        await consumer.stop()


async def commit_start(bootstrap: str, group: str, start: dict[TopicPartition, int]) -> None:
    """Point the worker's fresh consumer group at the first benchmark record."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        await consumer.commit(dict(start))
    finally:
        await consumer.stop()


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_consumed(client: httpx.AsyncClient, target: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (done := await metric(client, "chorus_events_consumed_total")) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker consumed {done} of {target}")
        await asyncio.sleep(0.1)
    return time.perf_counter()


async def latency_at_rate(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, tenant: str, rate: int, seconds: int
) -> list[float]:
    """Background clicks at `rate`/s; meanwhile probe shares, each timed from
    produce until the advocate's points show through the REST API."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def background() -> None:
        tick = 0
        began = time.monotonic()
        while time.monotonic() < stop:
            records = [
                click(tenant, f"bg-{random.randrange(1000)}", datetime.now(UTC))
                for _ in range(rate // 10)
            ]
            for r in records:
                await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
            tick += 1
            await asyncio.sleep(max(0.0, began + tick / 10 - time.monotonic()))

    async def probe(n: int) -> None:
        advocate = f"probe-{n}"
        token = mint_token(
            private_key_pem=DEV_PRIVATE_KEY_PEM,
            tenant=tenant,
            subject=advocate,
            roles=["advocate"],
            issuer="chorus-dev",
            audience="chorus",
        )
        headers = {"Authorization": f"Bearer {token}"}
        record = share(tenant, advocate)
        sent = time.perf_counter()
        await (
            await producer.send(record.topic, record.value, key=record.key, headers=record.headers)
        )
        while True:
            standing = (await client.get("/v1/me/standing", headers=headers)).json()
            if standing["lifetime_points"] > 0:
                latencies.append((time.perf_counter() - sent) * 1000)
                return
            await asyncio.sleep(0.005)

    async def probes() -> None:
        n = 0
        while time.monotonic() < stop:
            await probe(n)
            n += 1
            await asyncio.sleep(0.05)

    await asyncio.gather(background(), probes())
    return latencies


async def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--advocates", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--rate-seconds", type=int, default=20)
    parser.add_argument("--memory-advocates", type=int, default=100_000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--mongo", default=os.environ.get("CHORUS_MONGO_URL", "mongodb://127.0.0.1:27017")
    )
    args = parser.parse_args()
    tenant, app_id, port = (
        f"bench-{uuid.uuid4().hex[:6]}",
        f"bench-gamification-{uuid.uuid4().hex[:6]}",
        free_port(),
    )
    now = datetime.now(UTC)
    rng = random.Random(1)
    records = [
        share(tenant, f"adv-{rng.randrange(args.advocates)}")
        if rng.random() < 0.2
        else click(
            tenant, f"adv-{rng.randrange(args.advocates)}", now - timedelta(hours=rng.randrange(48))
        )
        for _ in range(args.events)
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    start = await end_offsets(args.bootstrap)
    await send(producer, records)
    baseline = await raw_consume_rate(args.bootstrap, start, args.events)
    await commit_start(args.bootstrap, app_id, start)

    env = {
        "CHORUS_ROLE": "all",
        "CHORUS_HTTP_PORT": str(port),
        "CHORUS_GRPC_PORT": "0",
        "CHORUS_ENGINE_APP_ID": app_id,
        "CHORUS_MONGO_DATABASE": app_id.replace("-", "_"),
        "CHORUS_KAFKA_BOOTSTRAP": args.bootstrap,
        "CHORUS_MONGO_URL": args.mongo,
        "CHORUS_LEADERBOARD_CACHE_SECONDS": "0",
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    worker = start_process([python(), "-m", "chorus.gamification.main"], env)
    figures: dict[str, object] = {"benchmark": "gamification_throughput", "events": args.events}
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_http(f"{base_url}/livez", timeout=120)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            while await metric(client, "chorus_consumer_assigned_partitions") == 0:
                await asyncio.sleep(0.1)
            began = time.perf_counter()
            ended = await wait_consumed(client, args.events, timeout=1800)
            scored = args.events / (ended - began)
            figures |= {
                "raw_consume_events_per_s": round(baseline),
                "worker_events_per_s": round(scored),
                "ratio": round(scored / baseline, 3),
            }
            latencies = await latency_at_rate(
                client, producer, tenant, args.rate, args.rate_seconds
            )
            figures |= {
                "rate_events_per_s": args.rate,
                "produce_to_api_p50_ms": round(statistics.median(latencies), 1),
                "produce_to_api_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1),
                "latency_probes": len(latencies),
            }
            before = rss_mib(worker.pid)
            consumed = await metric(client, "chorus_events_consumed_total")
            many = [share(tenant, f"mem-{n}") for n in range(args.memory_advocates)]
            await send(producer, many)
            await wait_consumed(client, consumed + len(many), timeout=3600)
            figures |= {
                "memory_advocates": args.memory_advocates,
                "worker_rss_mib_before": round(before, 1),
                "worker_rss_mib_after": round(rss_mib(worker.pid), 1),
            }
    finally:
        stop_process(worker)
        await producer.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
