"""Replicas join and leave under load, as on Kubernetes during a scale-up, a
rolling update or a pod that dies: for each consuming service a second replica
joins while events flow, leaves by SIGTERM, a third joins and is SIGKILLed. The
first replica answers /readyz 200 throughout, and every event has exactly one
effect (real processes, real broker and database)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaError
from content_support import approved_item, set_program
from gamification_support import (
    metric,
    send_records,
    source_lag,
    start_group_at_end,
    worker_env,
    workload,
)
from google.protobuf.timestamp_pb2 import Timestamp
from replicas import ReadinessWatch, Replica, join_and_leave, replicas

from chorus.contracts.common.v1.common_pb2 import (
    NETWORK_FACEBOOK,
    NETWORK_LINKEDIN,
    NETWORK_X,
    SHARE_MODE_API,
)
from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import ENGAGEMENT_KIND_CLICK, EngagementObserved
from chorus.engagement.main import build as build_engagement
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import ALL_TOPICS, CONTENT_APPROVED, ENGAGEMENT_OBSERVED, SHARE_PERFORMED
from chorus_testing import (
    SERVICE_GROUPS,
    UNLIMITED_PUBLIC_ROUTES,
    bearer,
    drop_database,
    end_offsets,
    eventually,
    mint_link,
    publish,
    read_topic,
    running,
    unique,
)
from distribution_support import approved, auto_sharers, links_service_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(autouse=True)
async def no_backlog_left(kafka_bootstrap: str) -> AsyncIterator[None]:
    """These tests publish thousands of events on the shared topics; the services'
    groups move past them afterwards so later tests do not wade through them."""
    yield
    for group in SERVICE_GROUPS:

        async def moved(group: str = group) -> bool:
            try:
                await start_group_at_end(kafka_bootstrap, group, ALL_TOPICS)
                return True
            except KafkaError:  # a SIGKILLed member is still in the group (10 s)
                return False

        await eventually(moved, timeout=60, interval=1)


BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}


def base_env(kafka: str, mongo_url: str, database: str) -> dict[str, str]:
    return {
        "CHORUS_KAFKA_BOOTSTRAP": kafka,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
        # The tests click from one address far faster than a person would.
        **UNLIMITED_PUBLIC_ROUTES,
    }


def assert_ready_throughout(watch: ReadinessWatch) -> None:
    assert watch.polls > 20, "readiness was hardly polled"
    assert watch.failures == [], f"the first replica was not ready: {watch.failures[:3]}"


CONTENT_ADVOCATES = 120
NETWORKS = (NETWORK_LINKEDIN, NETWORK_X, NETWORK_FACEBOOK)


async def test_content_replicas_come_and_go_with_exact_feed_marks_and_every_approval_out(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    database = unique("test_content_scale").replace("-", "_")
    tenant = unique("acme")
    advocates = [f"a{n:03d}" for n in range(CONTENT_ADVOCATES)]
    async with replicas("content", base_env(kafka_bootstrap, mongo_url, database)) as group:
        first = await group.start("first")
        async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http:
            api = SimpleNamespace(http=http)
            await set_program(api, tenant)
            item = await approved_item(api, tenant)
            for advocate in advocates:
                enrolment = await http.put(
                    "/v1/enrollment",
                    headers=bearer(tenant, advocate, "advocate"),
                    json={"policy_version": 1, "languages": ["en"]},
                )
                assert enrolment.status_code == 200, enrolment.text

            async def shares_flow() -> None:
                producer = EventProducer(
                    kafka_bootstrap, source="/test", metrics=Metrics(), client_id="test"
                )
                await producer.start()
                stamp = Timestamp()
                stamp.FromDatetime(datetime.now(UTC))
                try:
                    for n, advocate in enumerate(advocates):
                        for network in NETWORKS:
                            share = SharePerformed(
                                tenant=tenant,
                                advocate=advocate,
                                share_id=f"s-{advocate}",
                                content_id=item["id"],
                                network=network,
                                mode=SHARE_MODE_API,
                                performed_at=stamp,
                            )
                            await producer.publish(SHARE_PERFORMED, f"{tenant}:{advocate}", share)
                        if n % 5 == 4:
                            await asyncio.sleep(0.15)  # ~18 s of shares
                finally:
                    await producer.stop()

            async def feeds_exact() -> bool:
                for advocate in advocates:
                    feed = (
                        await http.get(
                            "/v1/feed?limit=100", headers=bearer(tenant, advocate, "advocate")
                        )
                    ).json()
                    entry = next(e for e in feed["items"] if e["item"]["id"] == item["id"])
                    if sorted(entry["shared_on"]) != ["facebook", "linkedin", "x"]:
                        return False
                    assert feed["frequency"]["shares_today"] == len(NETWORKS), feed["frequency"]
                return True

            approved_ids: list[str] = []
            dancing = asyncio.Event()

            async def approvals_flow() -> None:
                """Items approved through the newest live replica: its outbox relay
                may die (SIGKILL) holding their events; another replica's relay
                publishes them once the lease runs out."""
                async with httpx.AsyncClient(timeout=15) as client:
                    while dancing.is_set():
                        newest = [r for r in group.started if r.process.returncode is None][-1]
                        with contextlib.suppress(httpx.HTTPError, AssertionError):
                            approved = await approved_item(
                                SimpleNamespace(http=_At(client, newest)), tenant
                            )
                            approved_ids.append(approved["id"])
                        await asyncio.sleep(0.3)

            since = await end_offsets(kafka_bootstrap, CONTENT_APPROVED.name)
            watch = ReadinessWatch(first)
            async with watch.running():
                dancing.set()
                flowing = asyncio.create_task(shares_flow())
                approving = asyncio.create_task(approvals_flow())
                await join_and_leave(group)
                dancing.clear()
                await flowing
                await approving
                await eventually(feeds_exact, timeout=90, interval=1)
    records = await read_topic(
        kafka_bootstrap,
        CONTENT_APPROVED.name,
        expect=len(approved_ids),
        since=since,
        timeout=90,
        where=lambda r: (
            r.key.decode().startswith(f"{tenant}:") and r.key != f"{tenant}:{item['id']}".encode()
        ),
    )
    # Every approval published; a relay killed after sending may send one again
    # with the same event id (consumers dedupe on it), never a second event.
    by_item: dict[str, set[str]] = {}
    for record in records:
        by_item.setdefault(ContentApproved.FromString(record.value).content_id, set()).add(
            dict(record.headers)["ce_id"].decode()
        )
    assert len(approved_ids) > 10
    assert set(by_item) == set(approved_ids)
    assert all(len(ids) == 1 for ids in by_item.values())
    assert_ready_throughout(watch)
    await drop_database(mongo_url, database)


class _At:
    """An httpx client aimed at one replica (content_support's helpers use paths)."""

    def __init__(self, client: httpx.AsyncClient, replica: Replica) -> None:
        self._client, self._base = client, replica.base_url

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.get(f"{self._base}{path}", **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self._client.post(f"{self._base}{path}", **kwargs)


async def test_engagement_replicas_come_and_go_and_every_answered_click_counts_once(
    kafka_bootstrap: str, mongo_url: str, tmp_path: Path
) -> None:
    database = unique("test_engagement_scale").replace("-", "_")
    tenant = unique("acme")
    prefix = unique("eng")
    env = {
        **base_env(kafka_bootstrap, mongo_url, database),
        "CHORUS_JOURNAL_DIR": str(tmp_path),
        "CHORUS_PUBLIC_BASE_URL": "http://links.test",
    }
    since = await end_offsets(kafka_bootstrap, ENGAGEMENT_OBSERVED.name)
    sent = answered = 0

    def per_replica(name: str) -> dict[str, str]:
        return {"CHORUS_INSTANCE_ID": f"{prefix}-{name}"}

    async with replicas("engagement", env, per_replica=per_replica) as group:
        first = await group.start("first")
        async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http:
            created = await mint_link(http, kafka_bootstrap, tenant)
            path = f"/r/{created['code']}"
            stop_clicking = asyncio.Event()

            async def click_through(replica: Replica, client: httpx.AsyncClient) -> None:
                nonlocal sent, answered
                sent += 1
                with contextlib.suppress(httpx.HTTPError):  # a replica going away
                    response = await client.get(f"{replica.base_url}{path}", headers=BROWSER)
                    answered += response.status_code == 302

            async def clicks_flow() -> None:
                """Clicks alternate between the first replica and the newest live one."""
                async with httpx.AsyncClient(timeout=5) as client:
                    while not stop_clicking.is_set():
                        live = [r for r in group.started if r.process.returncode is None]
                        await asyncio.gather(
                            click_through(first, client), click_through(live[-1], client)
                        )
                        await asyncio.sleep(0.02)

            watch = ReadinessWatch(first)
            async with watch.running():
                flowing = asyncio.create_task(clicks_flow())
                _, third = await join_and_leave(group)
                stop_clicking.set()
                await flowing
                # A StatefulSet brings the killed pod back with its volume: its
                # journal publishes the clicks it answered before it died.
                back = await group.restart(third)
                await asyncio.sleep(2)
                await back.terminate()
                records = await read_topic(
                    kafka_bootstrap,
                    ENGAGEMENT_OBSERVED.name,
                    expect=answered,
                    since=since,
                    timeout=60,
                    where=lambda r: (
                        r.key == f"{tenant}:bob".encode()
                        and EngagementObserved.FromString(r.value).kind == ENGAGEMENT_KIND_CLICK
                    ),
                )
                ids = [dict(r.headers)["ce_id"] for r in records]
                assert len(ids) == len(set(ids)), "a click was published twice"
                # A click written but not answered (killed in between) may be there too.
                assert answered <= len(ids) <= sent, (answered, len(ids), sent)

                async def totals() -> dict[str, int] | None:
                    response = await http.get(
                        "/v1/shares/s-1/engagement", headers=bearer(tenant, "bob", "advocate")
                    )
                    body: dict[str, int] = response.json()
                    return body if body.get("click") == len(ids) else None

                await eventually(totals, timeout=60)
    assert answered > 100
    assert_ready_throughout(watch)
    await drop_database(mongo_url, database)


AUTO_SHARES = 1_000


async def test_distribution_replicas_come_and_go_and_a_fan_out_posts_each_share_once(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    engagement_settings = links_service_settings(kafka_bootstrap, mongo_url, tmp_path)
    database = unique("test_distribution_scale").replace("-", "_")
    tenant = unique("acme")
    advocates = [f"a{n:04d}" for n in range(AUTO_SHARES)]
    async with running(build_engagement(engagement_settings)) as engagement:
        env = {
            **base_env(kafka_bootstrap, mongo_url, database),
            "CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{engagement.grpc.port}",
            "CHORUS_LINKEDIN_API_BASE_URL": simulator_url,
            "CHORUS_X_API_BASE_URL": simulator_url,
            "CHORUS_LINKEDIN_APP_REQUESTS": "100000",
            "CHORUS_LINKEDIN_APP_WINDOW_SECONDS": "1",
            "CHORUS_POSTING_CONCURRENCY": "10",
            "CHORUS_PLATFORM_TIMEOUT_SECONDS": "5",
            "CHORUS_RECONCILE_SETTLE_SECONDS": "0.2",
        }
        async with (
            replicas("distribution", env) as group,
            httpx.AsyncClient(base_url=simulator_url, timeout=15) as sim,
        ):
            first = await group.start("first")
            async with httpx.AsyncClient(base_url=first.base_url, timeout=15) as http:
                await auto_sharers(http, sim, kafka_bootstrap, tenant, advocates)
                # Slow enough (at most 10 posts/s per replica) that the fan-out
                # cannot finish while replicas join and leave; fast again after.
                await sim.post(
                    "/_sim/faults",
                    json={"network": "linkedin", "kind": "slow", "ratio": 1.0, "seconds": 1.0},
                )

                async def posts() -> list[dict[str, str]]:
                    every = (await sim.get("/_sim/posts")).json()["posts"]
                    return [p for p in every if p["user_id"].startswith(f"{tenant}-")]

                watch = ReadinessWatch(first)
                try:
                    async with watch.running():
                        await publish(kafka_bootstrap, [approved(tenant, "c1")])
                        await eventually(lambda: _at_least(posts, 50), timeout=60)
                        await join_and_leave(group)
                        assert len(await posts()) < AUTO_SHARES, "done before the dance ended"
                        await sim.post("/_sim/reset-faults")

                        async def all_posted() -> list[dict[str, str]] | None:
                            current = await posts()
                            return current if len(current) >= AUTO_SHARES else None

                        await eventually(all_posted, timeout=180, interval=1)
                        await asyncio.sleep(3)  # a second post of anything would show by now
                        final = await posts()
                finally:
                    await sim.post("/_sim/reset-faults")
    per_member = Counter(p["user_id"] for p in final)
    assert len(per_member) == AUTO_SHARES
    twice = {member: n for member, n in per_member.items() if n > 1}
    assert not twice, f"posted more than once: {twice}"
    assert_ready_throughout(watch)
    await drop_database(mongo_url, database)
    await drop_database(mongo_url, engagement_settings.database_name)


async def _at_least(posts: Any, count: int) -> bool:
    return len(await posts()) >= count


GAMIFICATION_EVENTS = 20_000
GAMIFICATION_ADVOCATES = 200


async def test_gamification_workers_come_and_go_and_every_point_and_badge_counts_once(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    tenant, database, app_id = unique("t"), unique("gam"), unique("chorus-gamification")
    env = worker_env(
        database=database,
        http_port=0,
        app_id=app_id,
        kafka=kafka_bootstrap,
        mongo=mongo_url,
    )
    stream, totals, badges = workload(tenant, GAMIFICATION_EVENTS, GAMIFICATION_ADVOCATES)
    await start_group_at_end(kafka_bootstrap, app_id)

    async with (
        replicas("gamification", {**env, "CHORUS_ROLE": "worker"}) as workers,
        replicas("gamification", {**env, "CHORUS_ROLE": "api"}) as apis,
    ):
        first = await workers.start("first")
        readers = [await apis.start("api-1"), await apis.start("api-2")]

        async def owns_partitions() -> bool:
            return await metric(first.http_port, "chorus_consumer_assigned_partitions") > 0

        await eventually(owns_partitions, timeout=60, interval=0.5)
        watch = ReadinessWatch(first)
        async with watch.running():
            sending = asyncio.create_task(send_records(kafka_bootstrap, stream))
            await join_and_leave(workers, settle=8)
            await sending

            async def caught_up() -> bool:
                return await source_lag(first.http_port) == 0.0

            await eventually(caught_up, timeout=240, interval=1)

        async def standings(reader: Replica) -> dict[str, dict[str, Any]]:
            async with httpx.AsyncClient(base_url=reader.base_url, timeout=15) as http:
                found = {}
                for advocate in totals:
                    response = await http.get(
                        "/v1/me/standing",
                        headers=bearer(tenant, advocate, "advocate"),
                    )
                    found[advocate] = response.json()
                return found

        async def exact_everywhere() -> bool:
            for reader in readers:
                found = await standings(reader)
                if any(found[a]["lifetime_points"] != t for a, t in totals.items()):
                    return False
                # Lifetime badges (the period closer adds top-N ones for closed periods).
                lifetime = {
                    a: {b["badge"] for b in s["badges"] if not b["period"]}
                    for a, s in found.items()
                }
                assert lifetime == badges
            return True

        try:
            await eventually(exact_everywhere, timeout=60, interval=2)
        except AssertionError:
            found = await standings(readers[0])
            wrong = {
                a: (found[a]["lifetime_points"], t)
                for a, t in totals.items()
                if found[a]["lifetime_points"] != t
            }
            pytest.fail(f"{len(wrong)} advocates wrong (got, expected): {list(wrong.items())[:5]}")
    assert_ready_throughout(watch)
    await drop_database(mongo_url, database)
