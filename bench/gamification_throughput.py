"""Gamification: how fast one scoring worker goes against the physical ceiling
of this stack, how soon points show, and what the state costs in memory.

In one run, over the same records:
- the raw aiokafka consume rate;
- a raw pass-through rate (consume, and produce one small record per input,
  acks=all, idempotent, batch by batch like the engine): the ceiling of
  consume-score-announce here;
- one worker's scoring rate (its own process, a fresh consumer group pointed
  at the first record), its ratio to both, its CPU µs per event and a py-spy
  profile of where that CPU goes;
- produce → points visible through `GET /v1/me/standing` (a separate API
  process) at a steady rate over many advocates, with one worker and with two
  sharing the partitions;
- one worker's RSS before and after scoring many new advocates.

    python bench/gamification_throughput.py [--events 50000] [--advocates 1000]
        [--rate 1000] [--rate-seconds 60] [--rate-advocates 10000]
        [--memory-advocates 100000]

Needs the local stack (make stack-up). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).parent))
from _load import free_port, python, stack_arguments, start_process, stop_process, wait_http
from _namespace import topic_namespace
from _profile import Profile, cpu_seconds
from kafka_baseline import create_topic, delete_topic

from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.kit.auth import mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM
from chorus.kit.envelope import OutgoingRecord, encode
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import ADVOCATE_PARTITIONS, ENGAGEMENT_OBSERVED, SHARE_PERFORMED

TOPICS = (SHARE_PERFORMED, ENGAGEMENT_OBSERVED)
BATCH = 10_000  # the engine's default batch
# About the size of a points.awarded record.
ANNOUNCEMENT = b"x" * 120


def share(tenant: str, advocate: str) -> OutgoingRecord:
    message = SharePerformed(tenant=tenant, advocate=advocate, share_id=uuid.uuid4().hex, network=1)
    message.performed_at.GetCurrentTime()
    return encode(SHARE_PERFORMED, f"{tenant}:{advocate}", message, source="/bench")


def click(tenant: str, advocate: str, when: datetime) -> OutgoingRecord:
    message = EngagementObserved(tenant=tenant, advocate=advocate, kind=1, delta=1, network=1)
    message.observed_at.FromDatetime(when)
    return encode(ENGAGEMENT_OBSERVED, f"{tenant}:{advocate}", message, source="/bench")


def workload(tenant: str, events: int, advocates: int) -> list[OutgoingRecord]:
    """One share in five, the rest clicks spread over two days."""
    now, rng = datetime.now(UTC), random.Random(1)
    return [
        share(tenant, f"adv-{rng.randrange(advocates)}")
        if rng.random() < 0.2
        else click(
            tenant, f"adv-{rng.randrange(advocates)}", now - timedelta(hours=rng.randrange(48))
        )
        for _ in range(events)
    ]


class Broker:
    """A raw aiokafka producer sending to the benchmark's topic namespace."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.prefix = prefix
        self._kafka = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )

    async def start(self) -> None:
        await self._kafka.start()

    async def stop(self) -> None:
        await self._kafka.stop()

    async def send(self, record: OutgoingRecord) -> asyncio.Future[object]:
        topic = self.prefix + record.topic
        future: asyncio.Future[object] = await self._kafka.send(
            topic, record.value, key=record.key, headers=record.headers
        )
        return future


async def end_offsets(bootstrap: str, prefix: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [
            TopicPartition(prefix + topic.name, p)
            for topic in TOPICS
            for p in range(topic.partitions)
        ]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def send(producer: Broker, records: list[OutgoingRecord]) -> None:
    for start in range(0, len(records), 5000):
        futures = [await producer.send(r) for r in records[start : start + 5000]]
        await asyncio.gather(*futures)


async def consume_rate(
    bootstrap: str,
    start: dict[TopicPartition, int],
    count: int,
    forward_to: str | None = None,
    batched: bool = True,
) -> float:
    """Records/s of one aiokafka consumer reading exactly these records; with
    `forward_to`, also producing one small record per input there (acks=all,
    idempotent, to the input's partition) and awaiting each batch's
    acknowledgements before the next — built into record batches as the
    engine's producer does, or (batched=False) one aiokafka send() a record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = EventProducer(bootstrap, source="/bench", metrics=Metrics(), client_id="bench")
    await consumer.start()
    await producer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        seen, began = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            records = [record for records in batch.values() for record in records]
            seen += len(records)
            if forward_to is not None and batched:
                await producer.send_all(
                    [
                        OutgoingRecord(forward_to, record.key, ANNOUNCEMENT, [], record.partition)
                        for record in records
                    ]
                )
            elif forward_to is not None:
                acks = [
                    await producer.kafka.send(
                        forward_to, ANNOUNCEMENT, key=record.key, partition=record.partition
                    )
                    for record in records
                ]
                await asyncio.gather(*acks)
        return count / (time.perf_counter() - began)
    finally:
        await producer.stop()
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


class Process:
    """A gamification process in one role, with its HTTP client."""

    def __init__(self, role: str, env: dict[str, str]) -> None:
        port = free_port()
        self.process: subprocess.Popen[bytes] = start_process(
            [python(), "-m", "chorus.gamification.main"],
            env | {"CHORUS_ROLE": role, "CHORUS_HTTP_PORT": str(port), "CHORUS_GRPC_PORT": "0"},
        )
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.AsyncClient(base_url=self.url, timeout=30)

    async def ready(self) -> Process:
        await wait_http(f"{self.url}/livez", timeout=120)
        return self

    async def stop(self) -> None:
        stop_process(self.process)
        await self.client.aclose()


async def assigned(worker: Process) -> float:
    return await metric(worker.client, "chorus_consumer_assigned_partitions")


async def wait_assigned(workers: list[Process]) -> None:
    """Until each worker owns some partitions and together they own them all."""
    everything = ADVOCATE_PARTITIONS * 3  # share, engagement, lifecycle
    while True:
        counts = [await assigned(worker) for worker in workers]
        if all(counts) and sum(counts) == everything:
            return
        await asyncio.sleep(0.2)


async def wait_consumed(client: httpx.AsyncClient, target: float, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (done := await metric(client, "chorus_events_consumed_total")) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker consumed {done} of {target}")
        await asyncio.sleep(0.1)
    return time.perf_counter()


async def latency_at_rate(
    api: httpx.AsyncClient,
    producer: Broker,
    tenant: str,
    *,
    rate: int,
    seconds: int,
    advocates: int,
) -> dict[str, float]:
    """Background clicks at `rate`/s over `advocates`; meanwhile probe shares,
    each timed from produce until the advocate's points show through the API."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    tag = uuid.uuid4().hex[:4]

    async def background() -> None:
        tick, began = 0, time.monotonic()
        while time.monotonic() < stop:
            for _ in range(rate // 10):
                r = click(tenant, f"bg-{random.randrange(advocates)}", datetime.now(UTC))
                await producer.send(r)
            tick += 1
            await asyncio.sleep(max(0.0, began + tick / 10 - time.monotonic()))

    async def probe(n: int) -> None:
        advocate = f"probe-{tag}-{n}"
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
        await (await producer.send(record))
        while True:
            standing = (await api.get("/v1/me/standing", headers=headers)).json()
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
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1),
        "probes": len(latencies),
    }


async def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--advocates", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--rate-seconds", type=int, default=60)
    parser.add_argument("--rate-advocates", type=int, default=10_000)
    parser.add_argument("--memory-advocates", type=int, default=100_000)
    stack_arguments(parser)
    args = parser.parse_args()
    tenant, app_id = f"bench-{uuid.uuid4().hex[:6]}", f"bench-gamification-{uuid.uuid4().hex[:6]}"
    async with topic_namespace(args.bootstrap, "gamification") as prefix:
        figures = await run(args, tenant, app_id, prefix)
    print(json.dumps(figures))


async def run(args: argparse.Namespace, tenant: str, app_id: str, prefix: str) -> dict[str, object]:
    producer = Broker(args.bootstrap, prefix)
    await producer.start()
    start = await end_offsets(args.bootstrap, prefix)
    await send(producer, workload(tenant, args.events, args.advocates))
    raw = await consume_rate(args.bootstrap, start, args.events)
    scratch = await create_topic(args.bootstrap, ADVOCATE_PARTITIONS)
    try:
        passthrough = await consume_rate(args.bootstrap, start, args.events, forward_to=scratch)
        per_send = await consume_rate(
            args.bootstrap, start, args.events, forward_to=scratch, batched=False
        )
    finally:
        await delete_topic(args.bootstrap, scratch)
    await commit_start(args.bootstrap, prefix + app_id, start)

    env = {
        "CHORUS_TOPIC_PREFIX": prefix,
        "CHORUS_ENGINE_APP_ID": app_id,
        "CHORUS_MONGO_DATABASE": app_id.replace("-", "_"),
        "CHORUS_KAFKA_BOOTSTRAP": args.bootstrap,
        "CHORUS_MONGO_URL": args.mongo,
        "CHORUS_LEADERBOARD_CACHE_SECONDS": "0",
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    figures: dict[str, object] = {"benchmark": "gamification_throughput", "events": args.events}
    api = await Process("api", env).ready()
    worker = await Process("worker", env).ready()
    second: Process | None = None
    try:
        await wait_assigned([worker])
        cpu_before, profile = cpu_seconds(worker.process.pid), Profile(worker.process.pid)
        profile.start()
        began = time.perf_counter()
        # The worker may have started before it reported its partitions.
        already = await metric(worker.client, "chorus_events_consumed_total")
        ended = await wait_consumed(worker.client, args.events, timeout=1800)
        cpu = cpu_seconds(worker.process.pid) - cpu_before
        top = profile.stop()
        scored = (args.events - already) / (ended - began)
        figures |= {
            "raw_consume_events_per_s": round(raw),
            "passthrough_events_per_s": round(passthrough),
            "passthrough_one_send_a_record_events_per_s": round(per_send),
            "worker_events_per_s": round(scored),
            "ratio_to_raw": round(scored / raw, 3),
            "ratio_to_passthrough": round(scored / passthrough, 3),
            "worker_cpu_us_per_event": round(cpu / (args.events - already) * 1e6, 1),
            "profile_top_own_percent": top,
        }
        at_rate = {
            "rate": args.rate,
            "seconds": args.rate_seconds,
            "advocates": args.rate_advocates,
        }
        figures["latency_one_worker"] = at_rate | await latency_at_rate(
            api.client, producer, tenant, **at_rate
        )
        second = await Process("worker", env).ready()
        await wait_assigned([worker, second])
        figures["latency_two_workers"] = at_rate | await latency_at_rate(
            api.client, producer, tenant, **at_rate
        )
        await second.stop()
        second = None
        await wait_assigned([worker])
        consumed = await metric(worker.client, "chorus_events_consumed_total")
        before = rss_mib(worker.process.pid)
        await send(producer, [share(tenant, f"mem-{n}") for n in range(args.memory_advocates)])
        await wait_consumed(worker.client, consumed + args.memory_advocates, timeout=3600)
        figures |= {
            "memory_advocates": args.memory_advocates,
            "worker_rss_mib_before": round(before, 1),
            "worker_rss_mib_after": round(rss_mib(worker.process.pid), 1),
        }
    finally:
        for process in (second, worker, api):
            if process is not None:
                await process.stop()
        await producer.stop()
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(args.mongo)
        await mongo.drop_database(env["CHORUS_MONGO_DATABASE"])
        await mongo.close()
    return figures


if __name__ == "__main__":
    asyncio.run(main())
