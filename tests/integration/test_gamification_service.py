"""The gamification service as a real process over the real broker and
database: scoring, rules, leaderboards, opt-out and erasure, rewards,
poison events, and the closing of periods."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from gamification_support import (
    engagement,
    lifecycle,
    send_records,
    share,
    start_worker,
    worker_env,
)
from google.rpc import error_details_pb2, status_pb2
from pymongo import AsyncMongoClient

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.engagement.v1.events_pb2 import EngagementKind
from chorus.contracts.gamification.v1 import gamification_service_pb2 as pb
from chorus.contracts.gamification.v1 import gamification_service_pb2_grpc as pb_grpc
from chorus.contracts.gamification.v1.events_pb2 import PointsAwarded, RulesChanged
from chorus.gamification.adapters.closed_periods import ClosedPeriods
from chorus.gamification.adapters.engine_states import EngineStates
from chorus.gamification.adapters.rules_store import RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.app.period_closer import PeriodCloser
from chorus.gamification.domain.leaderboard import ranked
from chorus.gamification.domain.periods import PeriodKind
from chorus.gamification.domain.scoring import AdvocateState
from chorus.kit.envelope import OutgoingRecord
from chorus.kit.topics import POINTS_AWARDED, RULES_CHANGED, SHARE_PERFORMED, dead_letter_topic
from chorus_testing import (
    bearer,
    drop_database,
    end_offsets,
    eventually,
    free_port,
    read_topic,
    unique,
)


@dataclass
class Gamification:
    http: httpx.AsyncClient
    grpc_port: int
    kafka: str


@pytest.fixture(scope="module")
async def service(
    kafka_bootstrap: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gamification]:
    database, port, grpc_port = unique("gam"), free_port(), free_port()
    env = worker_env(
        database=database,
        http_port=port,
        app_id=unique("chorus-gamification"),
        kafka=kafka_bootstrap,
        mongo=mongo_url,
    )
    env["CHORUS_GRPC_PORT"] = str(grpc_port)
    process = await start_worker(env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Gamification(http, grpc_port, kafka_bootstrap)
    finally:
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0
        await drop_database(mongo_url, database)


async def standing_of(
    service: Gamification, tenant: str, advocate: str, **params: str
) -> dict[str, Any]:
    response = await service.http.get(
        "/v1/me/standing", params=params, headers=bearer(tenant, advocate, "advocate")
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for_points(
    service: Gamification, tenant: str, advocate: str, points: int
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        standing = await standing_of(service, tenant, advocate)
        return standing if standing["lifetime_points"] == points else None

    return await eventually(reached, timeout=30)


async def test_shares_and_engagement_become_points_badges_and_ranks(service: Gamification) -> None:
    tenant, now = unique("acme"), datetime.now(UTC)
    since = await end_offsets(service.kafka, POINTS_AWARDED.name)
    records: list[OutgoingRecord] = [
        lifecycle(tenant, "alice", AdvocateLifecycle.CHANGE_ENROLLED, now, ["sales"]),
        lifecycle(tenant, "bob", AdvocateLifecycle.CHANGE_ENROLLED, now, ["eng"]),
        share(tenant, "alice", now),
        share(tenant, "bob", now),
        share(tenant, "bob", now),
        engagement(tenant, "alice", EngagementKind.ENGAGEMENT_KIND_COMMENT, 4, now),
        engagement(tenant, "alice", EngagementKind.ENGAGEMENT_KIND_IMPRESSION, 500, now),
    ]
    await send_records(service.kafka, records + records[2:4])  # two redelivered
    alice = await wait_for_points(service, tenant, "alice", 10 + 12)
    bob = await wait_for_points(service, tenant, "bob", 20)
    assert [b["badge"] for b in alice["badges"]] == ["first-share"]
    assert (alice["rank"], bob["rank"]) == (1, 2)
    assert alice["balance"] == 22
    assert alice["streak_weeks"] == bob["streak_weeks"] == 1  # both shared this week

    board = (
        await service.http.get("/v1/leaderboards/week", headers=bearer(tenant, "bob", "advocate"))
    ).json()
    assert [(e["rank"], e["advocate"], e["points"]) for e in board["entries"]] == [
        (1, "alice", 22),
        (2, "bob", 20),
    ]
    team = (
        await service.http.get(
            "/v1/leaderboards/all", params={"group": "eng"}, headers=bearer(tenant, "x", "advocate")
        )
    ).json()
    assert [e["advocate"] for e in team["entries"]] == ["bob"]

    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        reply = await pb_grpc.GamificationServiceStub(channel).GetLeaderboard(
            pb.GetLeaderboardRequest(period_kind="month", limit=1),
            metadata=[("authorization", bearer(tenant, "bob", "advocate")["Authorization"])],
        )
    assert [(e.advocate, e.points) for e in reply.entries] == [("alice", 22)]
    assert reply.participants == 2

    awards = await read_topic(
        service.kafka,
        POINTS_AWARDED.name,
        expect=4,
        since=since,
        where=lambda r: r.key.decode().startswith(f"{tenant}:"),
    )
    assert sorted(PointsAwarded.FromString(r.value).points for r in awards) == [10, 10, 10, 12]


async def test_rule_changes_apply_to_later_events_only_and_are_announced(
    service: Gamification,
) -> None:
    tenant, admin = unique("acme"), bearer(unique("t"), "ann", "admin")
    admin = bearer(tenant, "ann", "admin")
    since = await end_offsets(service.kafka, RULES_CHANGED.name)
    effective = datetime.now(UTC) + timedelta(seconds=3)
    body = {
        "points": {"share": {"default": 10, "linkedin": 40}},
        "effective_from": effective.isoformat(),
    }
    saved = await service.http.put("/v1/rules", json=body, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1
    refused = await service.http.put(
        "/v1/rules", json=body, headers=bearer(tenant, "bob", "advocate")
    )
    assert refused.status_code == 403
    invalid = await service.http.put(
        "/v1/rules", json={"points": {"share": {"default": -5}}}, headers=admin
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"

    before, after = effective - timedelta(seconds=1), effective + timedelta(seconds=1)
    await send_records(
        service.kafka, [share(tenant, "carol", before), share(tenant, "carol", after)]
    )
    await wait_for_points(service, tenant, "carol", 10 + 40)  # network 1 is LinkedIn
    events = await read_topic(
        service.kafka,
        RULES_CHANGED.name,
        expect=1,
        since=since,
        where=lambda r: r.key == tenant.encode(),
    )
    assert [RulesChanged.FromString(r.value).version for r in events] == [1]

    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        stub = pb_grpc.GamificationServiceStub(channel)
        meta = [("authorization", admin["Authorization"])]
        current = await stub.GetRules(pb.GetRulesRequest(), metadata=meta)
        assert current.rules.version == 1
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.SetRules(
                pb.SetRulesRequest(
                    rules=pb.RuleSet(daily_caps=[pb.DailyCap(action="like", points=1)])
                ),
                metadata=meta,
            )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(error.value.trailing_metadata() or ())["grpc-status-details-bin"]
    packed = status_pb2.Status.FromString(details).details
    bad_request = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad_request) for d in packed)
    assert bad_request.field_violations[0].field.startswith("daily_caps")


async def test_a_period_that_does_not_exist_is_refused(service: Gamification) -> None:
    auth = bearer(unique("acme"), "erin", "advocate")
    for kind, period in (("week", "2026-W99"), ("month", "2026-13"), ("quarter", "2026-Q5")):
        board = await service.http.get(
            f"/v1/leaderboards/{kind}", params={"period": period}, headers=auth
        )
        assert board.status_code == 422, board.text
        assert board.json()["violations"][0]["field"] == "period"
    standing = await service.http.get(
        "/v1/me/standing", params={"period_kind": "week", "period": "2026-W1"}, headers=auth
    )
    assert standing.status_code == 422
    ok = await service.http.get(
        "/v1/leaderboards/week", params={"period": "2026-W53"}, headers=auth
    )
    assert ok.status_code == 200


async def test_opting_out_leaves_every_board_and_erases_the_state(service: Gamification) -> None:
    tenant, now = unique("acme"), datetime.now(UTC)
    await send_records(service.kafka, [share(tenant, "dave", now), share(tenant, "erin", now)])
    await wait_for_points(service, tenant, "dave", 10)
    await send_records(
        service.kafka,
        [lifecycle(tenant, "dave", AdvocateLifecycle.CHANGE_OPTED_OUT, now + timedelta(seconds=1))],
    )

    async def gone() -> bool:
        board = await service.http.get(
            "/v1/leaderboards/all", headers=bearer(tenant, "erin", "advocate")
        )
        return [e["advocate"] for e in board.json()["entries"]] == ["erin"]

    await eventually(gone, timeout=30)
    assert (await standing_of(service, tenant, "dave"))["lifetime_points"] == 0
    # A late event from before the opt-out does not bring the points back.
    await send_records(
        service.kafka,
        [share(tenant, "dave", now - timedelta(minutes=5)), share(tenant, "erin", now)],
    )
    await wait_for_points(service, tenant, "erin", 20)
    assert (await standing_of(service, tenant, "dave"))["lifetime_points"] == 0


async def test_poison_goes_to_the_dead_letter_topic_and_scoring_goes_on(
    service: Gamification,
) -> None:
    tenant, now = unique("acme"), datetime.now(UTC)
    dlq = dead_letter_topic("gamification")
    since = await end_offsets(service.kafka, dlq)
    poison = OutgoingRecord(SHARE_PERFORMED.name, f"{tenant}:frank".encode(), b"\xff\x00junk", [])
    await send_records(service.kafka, [poison, share(tenant, "frank", now)])
    await wait_for_points(service, tenant, "frank", 10)
    dead = await read_topic(
        service.kafka,
        dlq,
        expect=1,
        since=since,
        where=lambda r: r.key == f"{tenant}:frank".encode(),
    )
    headers = dict(dead[0].headers)
    assert headers["dlq_reason"].decode().startswith("undecodable")
    assert headers["dlq_origin_topic"].decode() == SHARE_PERFORMED.name


async def test_redemptions_are_idempotent_never_overdraw_nor_oversell(
    service: Gamification,
) -> None:
    tenant, now = unique("acme"), datetime.now(UTC)
    admin = bearer(tenant, "ann", "admin")
    created = await service.http.post(
        "/v1/rewards", json={"name": "Mug", "cost": 30, "stock": 3}, headers=admin
    )
    assert created.status_code == 201, created.text
    mug = created.json()["id"]
    forbidden = await service.http.post(
        "/v1/rewards",
        json={"name": "Car", "cost": 1, "stock": 1},
        headers=bearer(tenant, "gus", "advocate"),
    )
    assert forbidden.status_code == 403

    await send_records(
        service.kafka, [share(tenant, "gus", now + timedelta(seconds=i)) for i in range(10)]
    )
    await wait_for_points(service, tenant, "gus", 100)
    gus = bearer(tenant, "gus", "advocate")

    async def redeem(key: str) -> httpx.Response:
        return await service.http.post(
            f"/v1/rewards/{mug}/redemptions", headers={**gus, "Idempotency-Key": key}
        )

    replies = await asyncio.gather(*(redeem(f"k-{i}") for i in range(6)))
    confirmed = [r for r in replies if r.status_code == 201]
    refused = [r for r in replies if r.status_code == 409]
    assert len(confirmed) == 3 and len(refused) == 3  # 100 points buy three mugs of 30
    assert {r.json()["reason"] for r in refused} == {"insufficient_balance"}
    again = await redeem("k-0")
    assert again.status_code == replies[0].status_code
    assert again.json().get("id") == replies[0].json().get("id") or again.json()["reason"]
    standing = await standing_of(service, tenant, "gus")
    assert (standing["lifetime_points"], standing["balance"]) == (100, 10)
    stock = (await service.http.get("/v1/rewards", headers=gus)).json()
    assert stock[0]["stock"] == 0

    # Out of stock: a rich advocate is refused too, and keeps their balance.
    await send_records(
        service.kafka, [share(tenant, "hal", now + timedelta(seconds=i)) for i in range(5)]
    )
    await wait_for_points(service, tenant, "hal", 50)
    hal = bearer(tenant, "hal", "advocate")
    sold_out = await service.http.post(
        f"/v1/rewards/{mug}/redemptions", headers={**hal, "Idempotency-Key": "h"}
    )
    assert sold_out.status_code == 409 and sold_out.json()["reason"] == "out_of_stock"
    assert (await standing_of(service, tenant, "hal"))["balance"] == 50
    missing_key = await service.http.post(f"/v1/rewards/{mug}/redemptions", headers=hal)
    assert missing_key.status_code == 422


async def test_closing_a_period_awards_the_top_n_once(mongo_url: str) -> None:
    """The closer over the real database, at a chosen moment."""
    database, tenant = unique("gam"), unique("acme")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[database]
    try:
        standings, rules = Standings(db, cache_seconds=0), RulesStore(db)
        closed = ClosedPeriods(db)
        closer = PeriodCloser(closed, standings, rules)
        week = "2026-W47"
        states = {}
        for n, points in enumerate([50, 70, 70, 10, 5]):
            state = AdvocateState(
                lifetime=points, periods={f"week:{week}": points}, offsets={"t": n}
            )
            states[(tenant, f"adv-{n}")] = state
        await EngineStates(db).save(states)
        monday = datetime(2026, 11, 23, tzinfo=UTC)
        week_id = f"{tenant}|week|{week}"
        await closer.close_due(monday + timedelta(minutes=30))  # within the grace period
        assert await closed.collection.find_one({"_id": week_id}) is None
        assert await closer.close_due(monday + timedelta(hours=2)) == 1
        assert await closer.close_due(monday + timedelta(hours=3)) == 0  # once
        doc = await closed.collection.find_one({"_id": week_id})
        assert doc is not None
        assert (doc["badge"], doc["winners"]) == ("top-3-week", ["adv-1", "adv-2", "adv-0"])
        assert len(doc["outbox"]) == 3
        badges = await closed.badges_of(tenant, "adv-2")
        assert [(b.badge, b.period) for b in badges] == [("top-3-week", week)]
    finally:
        await client.close()
        await drop_database(mongo_url, database)


async def test_a_rank_counted_by_mongodb_is_the_boards_rank(mongo_url: str) -> None:
    """rank_of (one count query) agrees with the ranked board, ties and all,
    for every period kind; advocates who left are on neither."""
    database, tenant = unique("gam"), unique("acme")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[database]
    try:
        standings = Standings(db, cache_seconds=0)
        week = "2026-W47"
        states = {}
        for n, points in enumerate([50, 70, 70, 10, 5, 70, 0]):
            states[(tenant, f"adv-{n}")] = AdvocateState(
                lifetime=points + n, periods={f"week:{week}": points}, offsets={"t": n}
            )
        states[(tenant, "gone")] = AdvocateState.left(datetime.now(UTC), {"t": 99})
        await EngineStates(db).save(states)
        everyone = await standings.of_tenant(tenant)
        assert "gone" not in {s.advocate for s in everyone}
        for kind, period in ((PeriodKind.WEEK, week), (PeriodKind.ALL_TIME, "all")):
            board = {e.advocate: e.rank for e in ranked(everyone, kind, period)}
            for standing in everyone:
                rank = await standings.rank_of(tenant, standing, kind, period)
                assert rank == board.get(standing.advocate, 0), (kind, standing.advocate)
        week_board = [e.advocate for e in ranked(everyone, PeriodKind.WEEK, week)]
        assert week_board[:3] == ["adv-1", "adv-2", "adv-5"]  # a tie goes by advocate id
    finally:
        await client.close()
        await drop_database(mongo_url, database)
