"""Distribution against the real broker, MongoDB, the engagement service (for
tracked links over gRPC) and the platform simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio

from chorus.contracts.common.v1.common_pb2 import NETWORK_LINKEDIN
from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle, ContentRetracted
from chorus.contracts.distribution.v1 import distribution_service_pb2 as pb
from chorus.contracts.distribution.v1 import distribution_service_pb2_grpc as pb_grpc
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.topics import ADVOCATE_LIFECYCLE, CONTENT_RETRACTED, SHARE_PERFORMED
from chorus_testing import (
    bearer,
    end_offsets,
    eventually,
    publish,
    read_topic,
    unique,
)
from distribution_support import (
    Stack,
    connect,
    control_caught_up,
    distribution_stack,
    posted,
    seed,
    share_status,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str,
    mongo_url: str,
    simulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    async with distribution_stack(
        kafka_bootstrap, mongo_url, simulator_url, tmp_path_factory.mktemp("journal")
    ) as started:
        yield started


async def test_share_by_api_and_by_intent_posts_once_with_tracked_links(stack: Stack) -> None:
    tenant, advocate = unique("acme"), "bob"
    await seed(stack.kafka, stack.http, tenant, [advocate], ["c1"])
    account = await connect(stack.http, stack.sim, tenant, advocate, "linkedin")
    assert account["health"] == "active" and account["member_id"] == f"{tenant}-{advocate}"
    since = await end_offsets(stack.kafka, SHARE_PERFORMED.name)
    auth = {**bearer(tenant, advocate, "advocate"), "Idempotency-Key": "share-1"}
    body = {"content_id": "c1", "targets": [{"network": "linkedin"}, {"network": "facebook"}]}
    created = await stack.http.post("/v1/shares", json=body, headers=auth)
    replay = await stack.http.post("/v1/shares", json=body, headers=auth)
    assert created.status_code == replay.status_code == 201, created.text
    share = created.json()
    assert replay.json()["id"] == share["id"]
    facebook = next(n for n in share["networks"] if n["network"] == "facebook")
    assert facebook["mode"] == "intent" and facebook["status"] == "intent_pending"
    assert facebook["tracked_url"].startswith("http://links.test/r/")
    assert facebook["intent_url"].startswith("https://www.facebook.com/sharer/sharer.php?u=")

    linkedin = await posted(stack, tenant, advocate, share["id"], "linkedin")
    assert linkedin["status"] == "posted" and linkedin["post_ref"].startswith("urn:li:share:")
    posts = [
        p
        for p in (await stack.sim.get("/_sim/posts")).json()["posts"]
        if p["user_id"] == f"{tenant}-{advocate}"
    ]
    assert len(posts) == 1
    assert linkedin["tracked_url"] in posts[0]["text"] and "acme.example" not in posts[0]["text"]
    assert posts[0]["link"] == linkedin["tracked_url"]
    assert "#employee" in posts[0]["text"]

    confirmed = await stack.http.post(
        f"/v1/shares/{share['id']}/networks/facebook/confirm", headers=auth
    )
    assert confirmed.status_code == 200
    records = await read_topic(
        stack.kafka,
        SHARE_PERFORMED.name,
        expect=2,
        since=since,
        where=lambda r: r.key == f"{tenant}:{advocate}".encode(),
    )
    events = sorted((SharePerformed.FromString(r.value) for r in records), key=lambda e: e.network)
    assert [(e.network, e.mode) for e in events] == [(1, 1), (3, 2)]
    assert events[0].post_ref == linkedin["post_ref"]
    assert events[0].tracked_link_code == linkedin["tracked_url"].rsplit("/", 1)[1]


async def test_share_requests_are_refused_with_clear_reasons(stack: Stack) -> None:
    tenant = unique("acme")
    await seed(
        stack.kafka, stack.http, tenant, ["bob"], ["c1"], program={"hard_limit": True, "per_day": 1}
    )
    http = stack.http

    async def attempt(
        advocate: str, content_id: str = "c1", network: str = "linkedin"
    ) -> httpx.Response:
        return await http.post(
            "/v1/shares",
            headers=bearer(tenant, advocate, "advocate"),
            json={"content_id": content_id, "targets": [{"network": network}]},
        )

    stranger = await attempt("eve")
    assert stranger.status_code == 409 and stranger.json()["reason"] == "not_enrolled"
    assert (await attempt("bob", content_id="nope")).status_code == 404
    no_account = await attempt("bob")
    assert no_account.status_code == 409
    assert no_account.json()["reason"] == "account_not_connected"
    bad = await http.post(
        "/v1/shares",
        headers=bearer(tenant, "bob", "advocate"),
        json={"content_id": "c1", "targets": [{"network": "myspace"}]},
    )
    assert bad.status_code == 422

    assert (await attempt("bob", network="facebook")).status_code == 201
    limited = await attempt("bob", network="facebook")
    assert limited.status_code == 429 and limited.json()["reason"] == "posting_limit"

    await publish(
        stack.kafka,
        [(CONTENT_RETRACTED, f"{tenant}:c1", ContentRetracted(tenant=tenant, content_id="c1"))],
    )

    async def withdrawn() -> dict[str, Any] | None:
        response = await http.get("/v1/content/c1", headers=bearer(tenant, "bob", "advocate"))
        return response.json() if response.json()["retracted"] else None

    await eventually(withdrawn)
    retracted = await attempt("bob", network="facebook")
    assert retracted.status_code in (409, 429)


async def test_revoked_and_expired_accounts_fail_clearly(stack: Stack) -> None:
    tenant = unique("acme")
    await seed(stack.kafka, stack.http, tenant, ["bob"], ["c1", "c2"])
    await connect(stack.http, stack.sim, tenant, "bob", "x")
    # Revoke every X token of this member at the platform.
    revoked = await stack.sim.post(f"/_sim/members/{tenant}-bob/revoke")
    assert revoked.json()["revoked"] >= 1
    auth = bearer(tenant, "bob", "advocate")
    share = (
        await stack.http.post(
            "/v1/shares", headers=auth, json={"content_id": "c1", "targets": [{"network": "x"}]}
        )
    ).json()
    status = await posted(stack, tenant, "bob", share["id"], "x")
    assert status["status"] == "failed" and status["failure"].startswith("account_expired")
    accounts = (await stack.http.get("/v1/accounts", headers=auth)).json()
    assert accounts[0]["health"] == "expired"
    again = await stack.http.post(
        "/v1/shares", headers=auth, json={"content_id": "c2", "targets": [{"network": "x"}]}
    )
    assert again.status_code == 409 and again.json()["reason"] == "account_expired"


async def test_retraction_deletes_api_posts_at_the_platform(stack: Stack) -> None:
    tenant = unique("acme")
    await seed(stack.kafka, stack.http, tenant, ["bob"], ["c1"])
    await connect(stack.http, stack.sim, tenant, "bob", "linkedin")
    auth = bearer(tenant, "bob", "advocate")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.grpc_port}") as channel:
        reply = await pb_grpc.DistributionServiceStub(channel).RequestShare(
            pb.RequestShareRequest(
                content_id="c1",
                targets=[
                    pb.ShareTarget(network=NETWORK_LINKEDIN, commentary="My own words #employee")
                ],
            ),
            metadata=[("authorization", auth["Authorization"])],
        )
    share_id = reply.share.share_id
    status = await posted(stack, tenant, "bob", share_id, "linkedin")
    assert status["commentary"] == "My own words #employee"
    await publish(
        stack.kafka,
        [(CONTENT_RETRACTED, f"{tenant}:c1", ContentRetracted(tenant=tenant, content_id="c1"))],
    )

    async def deleted() -> dict[str, Any] | None:
        current = await share_status(stack, tenant, "bob", share_id, "linkedin")
        return current if current["status"] == "deleted" else None

    await eventually(deleted, timeout=30)
    posts = [
        p
        for p in (await stack.sim.get("/_sim/posts")).json()["posts"]
        if p["user_id"] == f"{tenant}-bob"
    ]
    assert [p["deleted"] for p in posts] == [True]


def lifecycle(tenant: str, advocate: str, change: Any) -> tuple[Any, str, Any]:
    message = AdvocateLifecycle(tenant=tenant, advocate=advocate, change=change, policy_version=1)
    return (ADVOCATE_LIFECYCLE, f"{tenant}:{advocate}", message)


async def test_lifecycle_changes_apply_in_order_erasure_removes_accounts(stack: Stack) -> None:
    """Lifecycle events arrive in chunks: each advocate's last change wins, and
    an erasure inside a chunk still removes their accounts."""
    tenant, erased, leaver = unique("acme"), "eve", "finn"
    await seed(stack.kafka, stack.http, tenant, [erased, leaver], ["c1"])
    await connect(stack.http, stack.sim, tenant, erased, "linkedin")
    await publish(
        stack.kafka,
        [
            lifecycle(tenant, erased, AdvocateLifecycle.CHANGE_ERASED),
            lifecycle(tenant, erased, AdvocateLifecycle.CHANGE_ENROLLED),
            lifecycle(tenant, leaver, AdvocateLifecycle.CHANGE_OPTED_OUT),
        ],
    )
    await control_caught_up(stack.kafka)

    accounts = await stack.http.get("/v1/accounts", headers=bearer(tenant, erased, "advocate"))
    assert accounts.status_code == 200 and accounts.json() == []

    async def share_as(advocate: str) -> httpx.Response:
        return await stack.http.post(
            "/v1/shares",
            json={"content_id": "c1", "targets": [{"network": "facebook"}]},
            headers={**bearer(tenant, advocate, "advocate"), "Idempotency-Key": unique("k")},
        )

    refused = await share_as(leaver)
    assert refused.status_code == 409 and refused.json()["reason"] == "not_enrolled"
    # Enrolled again after the erasure: a Facebook intent needs no account.
    assert (await share_as(erased)).status_code == 201


async def test_a_share_queued_before_an_opt_out_is_never_posted(stack: Stack) -> None:
    tenant, advocate = unique("acme"), "gail"
    await seed(stack.kafka, stack.http, tenant, [advocate], ["c1"])
    await connect(stack.http, stack.sim, tenant, advocate, "linkedin")
    when = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    created = await stack.http.post(
        "/v1/shares",
        json={"content_id": "c1", "targets": [{"network": "linkedin"}], "scheduled_at": when},
        headers={**bearer(tenant, advocate, "advocate"), "Idempotency-Key": "later"},
    )
    assert created.status_code == 201, created.text
    share_id = created.json()["id"]
    assert (await share_status(stack, tenant, advocate, share_id, "linkedin"))["status"] == (
        "scheduled"
    )
    await publish(stack.kafka, [lifecycle(tenant, advocate, AdvocateLifecycle.CHANGE_OPTED_OUT)])
    await control_caught_up(stack.kafka)

    status = await posted(stack, tenant, advocate, share_id, "linkedin")
    assert status["status"] == "failed" and status["failure"].startswith("not_enrolled")
    posts = (await stack.sim.get("/_sim/posts")).json()["posts"]
    assert [p for p in posts if p["user_id"] == f"{tenant}-{advocate}"] == []


async def test_an_advocate_pages_through_their_own_shares_newest_first(stack: Stack) -> None:
    tenant = unique("acme")
    await seed(stack.kafka, stack.http, tenant, ["bob", "eve"], ["c1", "c2", "c3"])
    auth = bearer(tenant, "bob", "advocate")
    made = []
    for content_id in ("c1", "c2", "c3"):
        body = {"content_id": content_id, "targets": [{"network": "facebook"}]}
        created = await stack.http.post("/v1/shares", json=body, headers=auth)
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    await stack.http.post(
        "/v1/shares",
        json={"content_id": "c1", "targets": [{"network": "facebook"}]},
        headers=bearer(tenant, "eve", "advocate"),
    )

    first = (await stack.http.get("/v1/shares", params={"limit": 2}, headers=auth)).json()
    assert [s["id"] for s in first["shares"]] == made[:0:-1]
    assert [s["content_id"] for s in first["shares"]] == ["c3", "c2"]
    assert {s["content_title"] for s in first["shares"]} == {"Our new plant"}
    assert first["shares"][0]["networks"][0]["status"] == "intent_pending"
    rest = await stack.http.get(
        "/v1/shares", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    )
    assert [s["id"] for s in rest.json()["shares"]] == made[:1]
    assert rest.json()["next_cursor"] is None

    async with grpc.aio.insecure_channel(f"127.0.0.1:{stack.grpc_port}") as channel:
        reply = await pb_grpc.DistributionServiceStub(channel).ListShares(
            pb.ListSharesRequest(), metadata=[("authorization", auth["Authorization"])]
        )
    assert [s.share.share_id for s in reply.shares] == made[::-1]
    assert reply.shares[0].content_title == "Our new plant" and not reply.next_cursor

    bad = await stack.http.get("/v1/shares", params={"cursor": "nonsense"}, headers=auth)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
