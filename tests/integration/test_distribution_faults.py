"""No post is ever made twice or lost, whatever the platform does: a 429 storm,
20% 5xx answers and 1,000 responses dropped after the post was accepted,
counted at the platform simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.topics import SHARE_PERFORMED
from chorus_testing import bearer, end_offsets, read_topic, unique
from distribution_support import Stack, connect, distribution_stack, seed, share_status

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADVOCATES = 250
ITEMS = 4  # 1,000 posts, each response dropped once


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str,
    mongo_url: str,
    simulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async with distribution_stack(
        kafka_bootstrap,
        mongo_url,
        simulator_url,
        tmp_path_factory.mktemp("journal"),
        linkedin_app_requests=2000,
        linkedin_app_window_seconds=1.0,
        # With 20% random 5xx, six attempts all fail for 0.2^6 of posts: ~6% of
        # runs would end one of the 1,000 as retries_exhausted (seen once in CI).
        # This test is about duplicates and losses, not the retry cap.
        posting_max_attempts=15,
    ) as started:
        yield started


@pytest.mark.timeout(900)
async def test_faults_never_cause_a_duplicate_or_a_lost_post(stack: Stack) -> None:
    tenant = unique("acme")
    advocates = [f"a{n:03d}" for n in range(ADVOCATES)]
    items = [f"c{n}" for n in range(ITEMS)]
    await seed(stack.kafka, stack.http, tenant, advocates, items)
    slots = asyncio.Semaphore(20)

    async def connect_one(advocate: str) -> None:
        async with slots:
            await connect(stack.http, stack.sim, tenant, advocate, "linkedin")

    await asyncio.gather(*(connect_one(a) for a in advocates))
    for fault in (
        {"network": "linkedin", "kind": "429", "count": 50, "seconds": 1},
        {"network": "linkedin", "kind": "drop_after_accept", "count": 1000, "seconds": 3},
        {"network": "linkedin", "kind": "500", "ratio": 0.2},
    ):
        assert (await stack.sim.post("/_sim/faults", json=fault)).status_code == 201
    since = await end_offsets(stack.kafka, SHARE_PERFORMED.name)
    shares: list[tuple[str, str]] = []

    async def share(advocate: str, item: str) -> None:
        async with slots:
            response = await stack.http.post(
                "/v1/shares",
                headers=bearer(tenant, advocate, "advocate"),
                json={"content_id": item, "targets": [{"network": "linkedin"}]},
            )
            assert response.status_code == 201, response.text
            shares.append((advocate, response.json()["id"]))

    await asyncio.gather(*(share(a, i) for a in advocates for i in items))
    try:
        records = await read_topic(
            stack.kafka,
            SHARE_PERFORMED.name,
            expect=len(shares),
            since=since,
            timeout=300,
            where=lambda r: r.key.startswith(f"{tenant}:".encode()),
        )
    finally:
        await stack.sim.post("/_sim/reset-faults")

    async def status(advocate: str, share_id: str) -> dict[str, str]:
        async with slots:
            return await share_status(stack, tenant, advocate, share_id, "linkedin")

    statuses = await asyncio.gather(*(status(a, s) for a, s in shares))
    failures = [s["failure"] for s in statuses if s["status"] != "posted"]
    assert Counter(s["status"] for s in statuses) == {"posted": ADVOCATES * ITEMS}, failures
    posts = [
        p
        for p in (await stack.sim.get("/_sim/posts")).json()["posts"]
        if p["user_id"].startswith(f"{tenant}-")
    ]
    per_member = Counter(p["user_id"] for p in posts)
    assert len(posts) == ADVOCATES * ITEMS, "lost or duplicated posts at the platform"
    assert set(per_member.values()) == {ITEMS}
    assert len({p["link"] for p in posts}) == len(posts)  # one tracked link per post
    performed = [SharePerformed.FromString(r.value).share_id for r in records]
    assert sorted(set(performed)) == sorted(share_id for _, share_id in shares)
    assert len(set(performed)) == ADVOCATES * ITEMS
