"""Atomic under concurrency, across processes, on the real MongoDB server:
the services rely on single-document updates being atomic (no per-process
locking), so two processes racing through the services' adapters must lose
no increment of a counter and let exactly one compare-and-set transition win."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chorus.content.adapters.store import ContentStore
from chorus.content.domain.model import Item, ItemKind, State
from chorus.engagement.adapters.store import EngagementStore

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONTENDER = Path(__file__).with_name("mongo_contender.py")


async def test_two_processes_lose_no_increment_and_one_transition_wins(
    mongo_url: str, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    store = ContentStore(mongo_db)
    tenant = f"race-{uuid.uuid4().hex[:6]}"
    item = Item(
        tenant=tenant,
        id=uuid.uuid4().hex,
        author="carol",
        kind=ItemKind.CURATED,
        title="Contended",
        url="https://acme.example/contended",
        state=State.IN_REVIEW,
        created_at=datetime.now(UTC),
        version=1,
    )
    await store.insert_item(item, None)
    contenders = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(CONTENDER),
            mongo_url,
            mongo_db.name,
            tenant,
            item.id,
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for name in ("one", "two")
    ]
    for contender in contenders:
        assert contender.stdout is not None
        assert await asyncio.wait_for(contender.stdout.readline(), 60) == b"ready\n"
    # Both are connected and waiting: start them together.
    outputs = await asyncio.gather(
        *(asyncio.wait_for(c.communicate(b"go\n"), 60) for c in contenders)
    )
    assert [c.returncode for c in contenders] == [0, 0]
    results = [json.loads(stdout) for stdout, _ in outputs]

    # 2 processes x 150 concurrent clicks counted in one engagement total.
    assert await EngagementStore(mongo_db).totals(f"content:{tenant}") == {"click": 300}
    # 2 processes x 25 concurrent approvals expecting version 1: exactly one wins.
    assert sum(r["approvals_won"] for r in results) == 1
    stored = await store.get_item(tenant, item.id)
    assert stored is not None and stored.state is State.APPROVED and stored.version == 2
