"""Fan one approved item out to N auto-sharing advocates (default 10,000)
against the platform simulator with an app-wide posting limit, through the
real distribution and engagement services (their own processes), Kafka and
MongoDB. Prints achieved posts/s ÷ the configured limit (goal >= 0.95),
duplicates and lost posts (both must be 0) and the worker's memory.

    python bench/distribution_fanout.py [--advocates 10000] [--limit 50]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _load import free_port, python, start_process, stop_process, wait_http
from _namespace import topic_namespace

from chorus.contracts.common.v1.common_pb2 import NETWORK_LINKEDIN, Commentary
from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.distribution.adapters.crypto import DEV_TOKEN_KEYS, TokenCipher
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import mongo_client
from chorus.kit.producer import EventProducer
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import CONTENT_APPROVED

BOOTSTRAP = os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def seed(database: str, sim: httpx.AsyncClient, tenant: str, advocates: int) -> None:
    """Enrolled auto-sharers with connected LinkedIn accounts, written directly."""
    cipher = TokenCipher.from_setting(DEV_TOKEN_KEYS)
    client = mongo_client(ServiceSettings(mongo_database=database))
    db = client[database]
    await db["programs"].insert_one(
        {
            "_id": tenant,
            "policy_version": 1,
            "disclosure": "#employee",
            "auto_append": True,
            "per_day": 10,
            "per_week": 50,
            "hard_limit": False,
        }
    )
    expires = datetime.now(UTC) + timedelta(days=60)
    for start in range(0, advocates, 1000):
        names = [f"a{n:05d}" for n in range(start, min(advocates, start + 1000))]
        tokens = [f"tok-{tenant}-{name}" for name in names]
        await sim.post(
            "/_sim/tokens/bulk",
            json=[
                {
                    "network": "linkedin",
                    "user_id": f"{tenant}-{name}",
                    "token": token,
                    "expires_in": 86400,
                }
                for name, token in zip(names, tokens, strict=True)
            ],
        )
        await db["advocates"].insert_many(
            [
                {
                    "_id": f"{tenant}:{name}",
                    "tenant": tenant,
                    "advocate": name,
                    "enrolled": True,
                    "policy_version": 1,
                    "auto_share": True,
                    "groups": [],
                    "department": "",
                    "location": "",
                    "languages": [],
                }
                for name in names
            ]
        )
        await db["accounts"].insert_many(
            [
                {
                    "_id": f"{tenant}:{name}:linkedin",
                    "tenant": tenant,
                    "advocate": name,
                    "network": "linkedin",
                    "member_id": f"{tenant}-{name}",
                    "access": cipher.encrypt(token, f"{tenant}:{name}:linkedin"),
                    "refresh": "",
                    "expires_at": expires,
                    "revoked": False,
                    "health": "active",
                    "outbox": [],
                    "outbox_pending": False,
                }
                for name, token in zip(names, tokens, strict=True)
            ]
        )
    await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--advocates", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50, help="app-wide posts per second")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    async with topic_namespace(BOOTSTRAP, "distribution") as prefix:
        await run(args, prefix)


async def run(args: argparse.Namespace, prefix: str) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    databases = {
        name: f"bench_{name}_{uuid.uuid4().hex[:8]}" for name in ("distribution", "engagement")
    }
    sim_port, engagement_grpc = free_port(), free_port()
    simulator = start_process(
        [str(Path(python()).with_name("chorus-simulator")), "--port", str(sim_port)]
    )
    sim_url = f"http://127.0.0.1:{sim_port}"
    engagement = start_process(
        [str(Path(python()).with_name("chorus-engagement"))],
        {
            "CHORUS_TOPIC_PREFIX": prefix,
            "CHORUS_MONGO_DATABASE": databases["engagement"],
            "CHORUS_HTTP_PORT": str(free_port()),
            "CHORUS_GRPC_PORT": str(engagement_grpc),
            "CHORUS_LOG_LEVEL": "WARNING",
            "CHORUS_JOURNAL_DIR": tempfile.mkdtemp(),
            "CHORUS_INSTANCE_ID": tenant,
        },
    )
    distribution = None
    try:
        await wait_http(f"{sim_url}/_sim/stats")
        async with httpx.AsyncClient(base_url=sim_url, timeout=60) as sim:
            await sim.post(
                "/_sim/limits",
                json={"network": "linkedin", "scope": "app", "limit": args.limit, "seconds": 1},
            )
            await seed(databases["distribution"], sim, tenant, args.advocates)
            dist_port = free_port()
            distribution = start_process(
                [str(Path(python()).with_name("chorus-distribution"))],
                {
                    "CHORUS_TOPIC_PREFIX": prefix,
                    "CHORUS_MONGO_DATABASE": databases["distribution"],
                    "CHORUS_HTTP_PORT": str(dist_port),
                    "CHORUS_GRPC_PORT": str(free_port()),
                    "CHORUS_LOG_LEVEL": "WARNING",
                    "CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{engagement_grpc}",
                    "CHORUS_LINKEDIN_API_BASE_URL": sim_url,
                    "CHORUS_LINKEDIN_APP_REQUESTS": str(args.limit),
                    "CHORUS_LINKEDIN_APP_WINDOW_SECONDS": "1",
                },
            )
            await wait_http(f"http://127.0.0.1:{dist_port}/readyz")
            await asyncio.sleep(3)  # the consumer joins its group
            producer = EventProducer(
                BOOTSTRAP,
                source="/bench",
                metrics=Metrics(),
                client_id="bench",
                topic_prefix=prefix,
            )
            await producer.start()
            stamp_now = datetime.now(UTC) - timedelta(minutes=1)
            item = ContentApproved(
                tenant=tenant,
                content_id="c1",
                title="News",
                url="https://acme.example/news",
                commentaries=[Commentary(network=NETWORK_LINKEDIN, text="Proud! #employee")],
                disclosure="#employee",
                disclosure_auto_append=True,
            )
            item.publish_at.FromDatetime(stamp_now)
            await producer.publish(CONTENT_APPROVED, f"{tenant}:c1", item)
            await producer.stop()
            deadline = time.monotonic() + args.timeout
            peak_rss = 0.0
            while True:
                stats = (await sim.get("/_sim/stats")).json()["linkedin"]
                peak_rss = max(peak_rss, rss_mib(distribution.pid))
                if stats["members"] >= args.advocates or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(5)  # a duplicate would arrive now
            stats = (await sim.get("/_sim/stats")).json()["linkedin"]
    finally:
        for process in (distribution, engagement, simulator):
            if process is not None:
                stop_process(process)
        client = mongo_client(ServiceSettings())
        for database in databases.values():
            await client.drop_database(database)
        await client.close()

    elapsed = max(1e-9, stats["last_at"] - stats["first_at"]) if stats["posts"] else 0
    rate = (stats["posts"] - 1) / elapsed if stats["posts"] > 1 else 0.0
    print(
        json.dumps(
            {
                "benchmark": "distribution_fanout",
                "advocates": args.advocates,
                "configured_limit_per_s": args.limit,
                "posts": stats["posts"],
                "posts_per_s": round(rate, 1),
                "ratio_to_limit": round(rate / args.limit, 3),
                "goal_ratio": 0.95,
                "duplicates": stats["posts"] - stats["members"],
                "lost": args.advocates - stats["members"],
                "worker_peak_rss_mib": peak_rss,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
