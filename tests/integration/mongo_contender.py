"""One of two processes racing on the same MongoDB documents through the
services' own adapters (tests/integration/test_mongo_atomicity.py).

usage: mongo_contender.py MONGO_URL DATABASE TENANT ITEM_ID NAME

Once connected it prints "ready" and waits for a line on stdin, so that both
processes begin together; then it runs, all at once: 150 clicks counted in
one engagement total (each its own event, so each must count), and 25
attempts to approve the item (a compare-and-set on version 1). It prints one
JSON line: how many of its approvals won.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from chorus.content.adapters.store import ContentStore
from chorus.content.domain.model import State
from chorus.engagement.adapters.store import Count, EngagementStore

INCREMENTS = 150
APPROVALS = 25


async def main(mongo_url: str, database: str, tenant: str, item_id: str, name: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, tz_aware=True)
    store = ContentStore(client[database])
    totals = EngagementStore(client[database])
    item = await store.get_item(tenant, item_id)
    assert item is not None and item.version == 1
    # Open the connection pool before the start, so that both begin together.
    await asyncio.gather(*(totals.totals(f"content:{tenant}") for _ in range(20)))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)

    async def approve(attempt: int) -> bool:
        approved = replace(
            item,
            state=State.APPROVED,
            approved_by=f"{name}-{attempt}",
            approved_at=datetime.now(UTC),
            version=2,
        )
        return await store.replace_item(approved, expected_version=1, events=[])

    increments = [
        totals.add_to_totals([Count(f"{name}-{n}", (f"content:{tenant}",), "click", 1)])
        for n in range(INCREMENTS)
    ]
    approvals = [approve(n) for n in range(APPROVALS)]
    results = await asyncio.gather(*increments, *approvals)
    won = sum(1 for result in results[INCREMENTS:] if result)
    print(json.dumps({"name": name, "approvals_won": won}), flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
