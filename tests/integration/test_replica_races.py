"""Races across replicas through the public APIs: the same request sent to two
replicas of one service at once has one effect, as it would behind a load
balancer (real processes on one MongoDB replica set and one broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from content_support import item_body, set_program
from gamification_support import send_records, share, start_group_at_end, worker_env
from replicas import Replica, replicas

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.engagement.main import build as build_engagement
from chorus.kit.topics import CONTENT_APPROVED
from chorus_testing import (
    bearer,
    drop_database,
    end_offsets,
    eventually,
    read_topic,
    running,
    unique,
)
from distribution_support import connect, links_service_settings, seed

pytestmark = pytest.mark.asyncio(loop_scope="session")

ATTEMPTS = 12


def spread(first: Replica, second: Replica) -> list[str]:
    """The base URL each of ATTEMPTS concurrent requests goes to, alternating."""
    return [(first, second)[n % 2].base_url for n in range(ATTEMPTS)]


async def test_one_item_approved_on_two_content_replicas_at_once_is_approved_once(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    database = unique("test_content_race").replace("-", "_")
    tenant = unique("acme")
    env = {
        "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
    }
    async with replicas("content", env) as group, httpx.AsyncClient(timeout=15) as http:
        first, second = await group.start("first"), await group.start("second")
        async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as api:
            await set_program(SimpleNamespace(http=api), tenant)
        curator = bearer(tenant, "carol", "curator")
        created = await http.post(f"{first.base_url}/v1/items", json=item_body(), headers=curator)
        item = created.json()["id"]
        submitted = await http.post(f"{first.base_url}/v1/items/{item}/submit", headers=curator)
        assert submitted.status_code == 200, submitted.text
        since = await end_offsets(kafka_bootstrap, CONTENT_APPROVED.name)
        approver = bearer(tenant, "alice", "approver")
        replies = await asyncio.gather(
            *(
                http.post(f"{base}/v1/items/{item}/approve", headers=approver)
                for base in spread(first, second)
            )
        )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] + [409] * (ATTEMPTS - 1), [r.text for r in replies]
    records = await read_topic(
        kafka_bootstrap,
        CONTENT_APPROVED.name,
        expect=1,
        since=since,
        where=lambda r: r.key == f"{tenant}:{item}".encode(),
    )
    assert [ContentApproved.FromString(r.value).content_id for r in records] == [item]
    await drop_database(mongo_url, database)


async def test_redemptions_on_two_gamification_replicas_never_oversell_nor_overdraw(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    tenant, database, app_id = unique("acme"), unique("gam"), unique("chorus-gamification")
    env = worker_env(
        database=database, http_port=0, app_id=app_id, kafka=kafka_bootstrap, mongo=mongo_url
    )
    await start_group_at_end(kafka_bootstrap, app_id)
    now = datetime.now(UTC)
    advocates = ("gus", "hal")
    async with (
        replicas("gamification", {**env, "CHORUS_ROLE": "worker"}) as workers,
        replicas("gamification", {**env, "CHORUS_ROLE": "api"}) as apis,
        httpx.AsyncClient(timeout=15) as http,
    ):
        await workers.start("worker")
        first, second = await apis.start("api-1"), await apis.start("api-2")
        created = await http.post(
            f"{first.base_url}/v1/rewards",
            json={"name": "Mug", "cost": 30, "stock": 4},
            headers=bearer(tenant, "ann", "admin"),
        )
        assert created.status_code == 201, created.text
        mug = created.json()["id"]
        # 100 points each: three mugs apiece would be six, the stock is four.
        await send_records(
            kafka_bootstrap,
            [share(tenant, a, now + timedelta(seconds=i)) for a in advocates for i in range(10)],
        )

        async def standing(base: str, advocate: str) -> dict[str, Any]:
            response = await http.get(
                f"{base}/v1/me/standing", headers=bearer(tenant, advocate, "advocate")
            )
            return dict(response.json())

        async def everyone_has_points() -> bool:
            found = [await standing(first.base_url, a) for a in advocates]
            return all(s["lifetime_points"] == 100 for s in found)

        await eventually(everyone_has_points, timeout=60)

        async def redeem(base: str, advocate: str, key: str) -> httpx.Response:
            return await http.post(
                f"{base}/v1/rewards/{mug}/redemptions",
                headers={**bearer(tenant, advocate, "advocate"), "Idempotency-Key": key},
            )

        # Each advocate's requests alternate between the replicas too.
        who = [advocates[n // 2 % 2] for n in range(ATTEMPTS)]
        replies = await asyncio.gather(
            *(
                redeem(base, advocate, f"k-{n}")
                for n, (base, advocate) in enumerate(zip(spread(first, second), who, strict=True))
            )
        )
        confirmed = [r for r in replies if r.status_code == 201]
        refused = [r for r in replies if r.status_code == 409]
        assert len(confirmed) == 4 and len(refused) == ATTEMPTS - 4, [r.text for r in replies]
        assert {r.json()["reason"] for r in refused} <= {"out_of_stock", "insufficient_balance"}
        for advocate in advocates:
            mine = [
                r
                for r, w in zip(replies, who, strict=True)
                if w == advocate and r.status_code == 201
            ]
            balance = (await standing(second.base_url, advocate))["balance"]
            assert len(mine) <= 3 and balance == 100 - 30 * len(mine) >= 10
        rewards = await http.get(
            f"{second.base_url}/v1/rewards", headers=bearer(tenant, "gus", "advocate")
        )
        assert rewards.json()[0]["stock"] == 0
    await drop_database(mongo_url, database)


async def test_one_idempotency_key_on_two_distribution_replicas_makes_one_share(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    database = unique("test_distribution_race").replace("-", "_")
    tenant, advocate = unique("acme"), "bob"
    engagement_settings = links_service_settings(kafka_bootstrap, mongo_url, tmp_path)
    async with running(build_engagement(engagement_settings)) as engagement:
        env = {
            "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CHORUS_MONGO_URL": mongo_url,
            "CHORUS_MONGO_DATABASE": database,
            "CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{engagement.grpc.port}",
            "CHORUS_LINKEDIN_API_BASE_URL": simulator_url,
            "CHORUS_X_API_BASE_URL": simulator_url,
        }
        async with (
            replicas("distribution", env) as group,
            httpx.AsyncClient(base_url=simulator_url, timeout=15) as sim,
        ):
            first, second = await group.start("first"), await group.start("second")
            async with (
                httpx.AsyncClient(base_url=first.base_url, timeout=15) as api,
                httpx.AsyncClient(timeout=15) as http,
            ):
                await seed(kafka_bootstrap, api, tenant, [advocate], ["c1"])
                await connect(api, sim, tenant, advocate, "linkedin")
                auth = {**bearer(tenant, advocate, "advocate"), "Idempotency-Key": "once"}
                body = {"content_id": "c1", "targets": [{"network": "linkedin"}]}
                replies = await asyncio.gather(
                    *(
                        http.post(f"{base}/v1/shares", json=body, headers=auth)
                        for base in spread(first, second)
                    )
                )
                assert {r.status_code for r in replies} == {201}, [r.text for r in replies]
                assert len({r.json()["id"] for r in replies}) == 1

                async def posts() -> list[dict[str, str]]:
                    every = (await sim.get("/_sim/posts")).json()["posts"]
                    return [p for p in every if p["user_id"] == f"{tenant}-{advocate}"]

                await eventually(posts, timeout=45)
                await asyncio.sleep(2)  # a second post would show by now
                assert len(await posts()) == 1
    await drop_database(mongo_url, database)
    await drop_database(mongo_url, engagement_settings.database_name)
