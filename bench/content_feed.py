"""An advocate's feed with 10,000 live items in the tenant and 100 groups:
requests/s and p50/p99 latency of GET /v1/feed on the real content service
(its own process, real MongoDB), beside a bare FastAPI endpoint returning the
same JSON from memory in the same run. Goal: ratio >= 0.3.

Then, in this process, the two ways to find a page of the feed: what the
service does (`ContentStore.feed_page`: the targeting rule as a MongoDB query
served by the feed index), and the alternative it replaced (every approved
item of the tenant held in memory, sorted once, filtered per request by the
pure targeting rule): pages/s of each, 16 at a time.

    python bench/content_feed.py [--items 10000] [--seconds 10] [--concurrency 16]

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
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _load import figures, free_port, load, python, start_process, stop_process, wait_http
from _namespace import topic_namespace

from chorus.content.adapters.documents import doc_to_item, item_to_doc
from chorus.content.adapters.store import ContentStore, feed_query_fields
from chorus.content.domain import workflow
from chorus.content.domain.model import Audience, Commentary, Item, ItemKind, Network, State
from chorus.kit.auth import mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM
from chorus.kit.mongo import mongo_client
from chorus.kit.settings import ServiceSettings
from chorus.kit.targeting import Profile, is_targeted

GROUPS = 100
ADVOCATE_GROUPS = ("g1", "g2", "g3", "g4", "g5")
PAGE = 20


async def seed(settings: ServiceSettings, tenant: str, count: int) -> None:
    client = mongo_client(settings)
    store = ContentStore(client[settings.database_name])
    await store.ensure_indexes()
    now = datetime.now(UTC)
    docs = []
    for n in range(count):
        item = Item(
            tenant=tenant,
            id=uuid.uuid4().hex,
            author="carol",
            kind=ItemKind.CURATED,
            title=f"Item {n}",
            url=f"https://acme.example/{n}",
            summary="A story worth sharing.",
            commentaries=(Commentary(Network.LINKEDIN, f"Proud of story {n}!"),),
            tags=("news",),
            audience=Audience(groups=(f"g{n % GROUPS}",)),
            priority=n % 5,
            state=State.APPROVED,
            approved_by="alice",
            approved_at=now - timedelta(minutes=n),
            created_at=now - timedelta(days=1),
        )
        docs.append({**item_to_doc(item), **feed_query_fields(item)})
    for start in range(0, len(docs), 1000):
        await store.items.insert_many(docs[start : start + 1000])
    await client.close()


async def pages_per_second(page: Any, seconds: float, concurrency: int) -> float:
    """Closed loop: `concurrency` callers of `page` back to back for `seconds`."""
    done = 0
    stop = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            assert len(await page()) == PAGE
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done / (time.perf_counter() - began)


async def snapshot_or_query(
    settings: ServiceSettings, tenant: str, seconds: float, concurrency: int
) -> dict[str, float]:
    client = mongo_client(settings)
    store = ContentStore(client[settings.database_name])
    now = datetime.now(UTC)
    profile = Profile()
    approved = store.items.find({"tenant": tenant, "state": State.APPROVED.value})
    snapshot = sorted(
        [doc_to_item(doc) async for doc in approved],
        key=lambda i: (-i.priority, -(i.publish_at or i.approved_at or now).timestamp(), i.id),
    )

    async def from_snapshot() -> list[Any]:
        page = []
        for item in snapshot:
            live_now = workflow.effective_state(item, now) is State.LIVE
            if live_now and is_targeted(item.audience, profile, ADVOCATE_GROUPS):
                page.append(item)
                if len(page) == PAGE:
                    break
        return page

    async def from_query() -> list[Any]:
        return await store.feed_page(tenant, profile, ADVOCATE_GROUPS, now, None, PAGE)

    figures_ = {
        "snapshot_pages_per_s": round(await pages_per_second(from_snapshot, seconds, concurrency)),
        "query_pages_per_s": round(await pages_per_second(from_query, seconds, concurrency)),
    }
    await client.close()
    return figures_


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    bootstrap = os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    async with topic_namespace(bootstrap, "content") as prefix:
        await run(args, prefix)


async def run(args: argparse.Namespace, prefix: str) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    database = f"bench_content_{uuid.uuid4().hex[:8]}"
    settings = ServiceSettings(service_name="content", mongo_database=database)
    await seed(settings, tenant, args.items)
    token = mint_token(
        private_key_pem=DEV_PRIVATE_KEY_PEM,
        tenant=tenant,
        subject="bob",
        roles=["advocate"],
        groups=list(ADVOCATE_GROUPS),
        issuer="chorus-dev",
        audience="chorus",
    )
    headers = {"Authorization": f"Bearer {token}"}

    port, grpc_port, bare_port = free_port(), free_port(), free_port()
    service = start_process(
        [str(Path(python()).with_name("chorus-content"))],
        {
            "CHORUS_TOPIC_PREFIX": prefix,
            "CHORUS_MONGO_DATABASE": database,
            "CHORUS_HTTP_PORT": str(port),
            "CHORUS_GRPC_PORT": str(grpc_port),
            "CHORUS_LOG_LEVEL": "WARNING",
        },
    )
    bare = None
    try:
        feed_url = f"http://127.0.0.1:{port}/v1/feed?limit=20"
        await wait_http(f"http://127.0.0.1:{port}/livez")
        # The first request loads the tenant's items: give it time.
        async with httpx.AsyncClient(timeout=60) as client:
            sample = (await client.get(feed_url, headers=headers)).json()
        assert len(sample["items"]) == 20, sample
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(sample, handle)
        bare = start_process(
            [
                python(),
                str(Path(__file__).with_name("_static_app.py")),
                str(bare_port),
                "json",
                handle.name,
            ]
        )
        await wait_http(f"http://127.0.0.1:{bare_port}/feed")
        bare_url = f"http://127.0.0.1:{bare_port}/v1/feed"

        await load(feed_url, seconds=2, concurrency=args.concurrency, headers=headers)  # warm-up
        feed = await load(
            feed_url, seconds=args.seconds, concurrency=args.concurrency, headers=headers
        )
        baseline = await load(bare_url, seconds=args.seconds, concurrency=args.concurrency)
        os.unlink(handle.name)
        stop_process(service)
        service = None
        in_process = await snapshot_or_query(settings, tenant, args.seconds, args.concurrency)
    finally:
        if service:
            stop_process(service)
        if bare:
            stop_process(bare)
        client = mongo_client(settings)
        await client.drop_database(database)
        await client.close()

    print(
        json.dumps(
            {
                "benchmark": "content_feed",
                "live_items": args.items,
                "groups": GROUPS,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                **figures("feed", feed),
                **figures("bare", baseline),
                "ratio": round(feed.per_second / baseline.per_second, 3),
                "goal_ratio": 0.3,
                **in_process,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
