"""Redirects/s and p50/p99 latency of GET /r/{code} on the real engagement
service (its own process; every click fsync'd to the journal before the 302)
under closed-loop load from loopback, as a ratio to a bare ASGI app answering
a static 302 in the same run (goal >= 0.5); then, at a fixed rate, the lag from
a redirect to its event on engagement.observed (p50/p99).

    python bench/engagement_redirect.py [--seconds 10] [--concurrency 16] [--rate 100]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).parent))

from _load import figures, free_port, load, python, start_process, stop_process, wait_http
from _namespace import topic_namespace

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.contracts.engagement.v1.events_pb2 import ENGAGEMENT_KIND_CLICK, EngagementObserved
from chorus.kit.auth import mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import mongo_client
from chorus.kit.producer import EventProducer
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import CONTENT_APPROVED, ENGAGEMENT_OBSERVED

BOOTSTRAP = os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}


async def lag_ms(
    base: str, prefix: str, code: str, key: bytes, count: int, rate: float
) -> list[float]:
    """Send `count` redirects at `rate`/s; the time from each 302 to its event."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    partitions = [
        TopicPartition(prefix + ENGAGEMENT_OBSERVED.name, p)
        for p in range(ENGAGEMENT_OBSERVED.partitions)
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)
    answered: list[float] = []
    lags: list[float] = []

    async def collect() -> None:
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200)
            arrived = time.time()
            for records in batch.values():
                for record in records:
                    if record.key != key:
                        continue
                    event = EngagementObserved.FromString(record.value)
                    if event.kind == ENGAGEMENT_KIND_CLICK:
                        sent = event.observed_at.ToDatetime().timestamp()
                        lags.append((arrived - sent) * 1000)
                        seen += 1

    collector = asyncio.create_task(collect())
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(f"/r/{code}", headers=BROWSER)
            assert response.status_code == 302
            answered.append(time.time())
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    await asyncio.wait_for(collector, 60)
    await consumer.stop()
    return lags


async def tracked_link(base: str, prefix: str, tenant: str, token: str) -> dict[str, str]:
    """The item is approved on content.approved (links go only to a live
    item's URL), then its link is asked for until engagement knows it."""
    producer = EventProducer(
        BOOTSTRAP, source="/bench", metrics=Metrics(), client_id="bench", topic_prefix=prefix
    )
    await producer.start()
    item = ContentApproved(tenant=tenant, content_id="c-1", url="https://acme.example/a")
    await producer.publish(CONTENT_APPROVED, f"{tenant}:c-1", item)
    await producer.stop()
    body = {"share_id": "s-1", "network": "linkedin", "content_id": "c-1", "url": item.url}
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(100):
            response = await client.post(
                "/v1/links", headers={"Authorization": f"Bearer {token}"}, json=body
            )
            if response.status_code == 201:
                return dict(response.json())
            await asyncio.sleep(0.2)
    raise TimeoutError(f"no tracked link: {response.status_code} {response.text}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--lag-samples", type=int, default=300)
    args = parser.parse_args()
    async with topic_namespace(BOOTSTRAP, "engagement") as prefix:
        await run(args, prefix)


async def run(args: argparse.Namespace, prefix: str) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    database = f"bench_engagement_{uuid.uuid4().hex[:8]}"
    port, bare_port = free_port(), free_port()
    journal = tempfile.mkdtemp(prefix="chorus-journal-")
    service = start_process(
        [str(Path(python()).with_name("chorus-engagement"))],
        {
            "CHORUS_TOPIC_PREFIX": prefix,
            "CHORUS_MONGO_DATABASE": database,
            "CHORUS_HTTP_PORT": str(port),
            "CHORUS_GRPC_PORT": str(free_port()),
            "CHORUS_LOG_LEVEL": "WARNING",
            "CHORUS_JOURNAL_DIR": journal,
            "CHORUS_INSTANCE_ID": f"bench-{uuid.uuid4().hex[:8]}",
            # The limit is checked on every request (its cost is measured) but
            # never refuses the benchmark's one client.
            "CHORUS_PUBLIC_RATE_PER_SECOND": "1000000",
            "CHORUS_PUBLIC_RATE_BURST": "1000000",
        },
    )
    bare = start_process(
        [
            python(),
            str(Path(__file__).with_name("_static_app.py")),
            str(bare_port),
            "redirect",
            "https://acme.example/a?utm_source=x",
        ]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{base}/livez")
        await wait_http(f"http://127.0.0.1:{bare_port}/r/x")
        token = mint_token(
            private_key_pem=DEV_PRIVATE_KEY_PEM,
            tenant=tenant,
            subject="bob",
            roles=["advocate"],
            issuer="chorus-dev",
            audience="chorus",
        )
        link = await tracked_link(base, prefix, tenant, token)
        url = f"{base}/r/{link['code']}"
        await load(
            url, seconds=2, concurrency=args.concurrency, headers=BROWSER, expect_status=302
        )  # warm-up
        service_load = await load(
            url,
            seconds=args.seconds,
            concurrency=args.concurrency,
            headers=BROWSER,
            expect_status=302,
        )
        bare_load = await load(
            f"http://127.0.0.1:{bare_port}/r/x",
            seconds=args.seconds,
            concurrency=args.concurrency,
            headers=BROWSER,
            expect_status=302,
        )
        await asyncio.sleep(3)  # let the relay drain the throughput phase
        lags = sorted(
            await lag_ms(
                base, prefix, link["code"], f"{tenant}:bob".encode(), args.lag_samples, args.rate
            )
        )
    finally:
        stop_process(service)
        stop_process(bare)
        client = mongo_client(ServiceSettings(mongo_database=database))
        await client.drop_database(database)
        await client.close()

    print(
        json.dumps(
            {
                "benchmark": "engagement_redirect",
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                **figures("redirect", service_load),
                **figures("bare", bare_load),
                "ratio": round(service_load.per_second / bare_load.per_second, 3),
                "goal_ratio": 0.5,
                "lag_rate_per_s": args.rate,
                "lag_samples": len(lags),
                "lag_p50_ms": round(statistics.median(lags), 1),
                "lag_p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
