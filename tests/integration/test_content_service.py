"""The content service against the real broker and MongoDB, through its REST
and gRPC APIs: workflow, compliance, enrollment, feed, outbox, every error path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio
from content_support import POLICY, approved_item, item_body, set_program
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2

from chorus.content.adapters.store import ContentStore
from chorus.content.app.content import ContentApp, ItemFields
from chorus.content.main import ContentSettings, build
from chorus.contracts.common.v1.common_pb2 import NETWORK_LINKEDIN, SHARE_MODE_API, Commentary
from chorus.contracts.content.v1 import content_service_pb2 as pb
from chorus.contracts.content.v1 import content_service_pb2_grpc as pb_grpc
from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle, ContentApproved
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.auth import Principal
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import mongo_client
from chorus.kit.producer import EventProducer
from chorus.kit.topics import ADVOCATE_LIFECYCLE, CONTENT_APPROVED, SHARE_PERFORMED
from chorus_testing import (
    bearer,
    drop_database,
    end_offsets,
    eventually,
    read_topic,
    running,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Content:
    def __init__(self, http: httpx.AsyncClient, grpc_port: int, settings: ContentSettings):
        self.http = http
        self.grpc_port = grpc_port
        self.settings = settings


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def content(kafka_bootstrap: str, mongo_url: str) -> AsyncIterator[Content]:
    settings = ContentSettings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        mongo_database=unique("test_content").replace("-", "_"),
        http_port=0,
        grpc_port=0,
    )
    async with running(build(settings)) as service:
        base = f"http://127.0.0.1:{service.bound_http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield Content(http, service.grpc.port, settings)
    await drop_database(mongo_url, settings.database_name)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_approval_puts_one_cloudevent_on_the_topic(
    content: Content, kafka_bootstrap: str
) -> None:
    tenant = unique("acme")
    await set_program(content, tenant)
    since = await end_offsets(kafka_bootstrap, CONTENT_APPROVED.name)
    curator = {**bearer(tenant, "carol", "curator"), "Idempotency-Key": "k-1"}
    first = await content.http.post("/v1/items", json=item_body(), headers=curator)
    replay = await content.http.post("/v1/items", json=item_body(), headers=curator)
    assert first.status_code == replay.status_code == 201
    assert first.json()["id"] == replay.json()["id"]
    assert first.json()["state"] == "draft"
    item_id = first.json()["id"]

    submitted = await content.http.post(
        f"/v1/items/{item_id}/submit", headers={**curator, "If-Match": first.headers["ETag"]}
    )
    assert submitted.json()["state"] == "in_review"
    approved = await content.http.post(
        f"/v1/items/{item_id}/approve", headers=bearer(tenant, "alice", "approver")
    )
    assert approved.json()["state"] == "live"
    assert approved.json()["approved_by"] == "alice"

    records = await read_topic(
        kafka_bootstrap,
        CONTENT_APPROVED.name,
        expect=1,
        since=since,
        where=lambda r: r.key == f"{tenant}:{item_id}".encode(),
    )
    assert len(records) == 1
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["ce_type"] == "chorus.contracts.content.v1.ContentApproved"
    assert headers["ce_source"] == "/chorus/content"
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/protobuf"
    assert headers["ce_id"] and headers["ce_time"] and headers["traceparent"]
    event = ContentApproved.FromString(records[0].value)
    assert (event.tenant, event.content_id, event.url) == (tenant, item_id, item_body()["url"])
    assert event.approved_by == "alice" and event.disclosure == "#employee"
    assert [c.text for c in event.commentaries] == [
        "Proud of the team! #employee",
        "New plant https://acme.example/news/plant #employee",
    ]


async def test_every_error_path_answers_problem_json(content: Content) -> None:
    tenant = unique("acme")
    await set_program(content, tenant)
    curator = bearer(tenant, "carol", "curator", "approver")
    http = content.http
    created = (await http.post("/v1/items", json=item_body(), headers=curator)).json()
    item_id = created["id"]

    problem(await http.get("/v1/items"), 401, "unauthenticated")
    problem(
        await http.get("/v1/items", headers={"Authorization": "Bearer nope"}), 401, "invalid_token"
    )
    problem(
        await http.put(
            "/v1/program", json={"policy_text": "x"}, headers=bearer(tenant, "bob", "advocate")
        ),
        403,
        "forbidden",
    )
    problem(
        await http.get(f"/v1/items/{item_id}", headers=bearer("globex", "carol", "curator")),
        404,
        "not_found",
    )
    body = problem(
        await http.post(f"/v1/items/{item_id}/approve", headers=curator), 409, "invalid_state"
    )
    assert body["current_state"] == "draft"
    problem(
        await http.put(
            f"/v1/items/{item_id}",
            json=item_body(title="New"),
            headers={**curator, "If-Match": '"99"'},
        ),
        412,
        "precondition_failed",
    )
    problem(
        await http.put(f"/v1/items/{item_id}", json=item_body(), headers=curator),
        428,
        "precondition_required",
    )
    problem(
        await http.put(
            f"/v1/items/{item_id}", json=item_body(), headers={**curator, "If-Match": "garbage"}
        ),
        400,
        "invalid_request",
    )
    problem(await http.get("/v1/items?cursor=%%%", headers=curator), 400, "invalid_request")
    problem(
        await http.post(
            "/v1/items", content=b"{oops", headers={**curator, "content-type": "application/json"}
        ),
        400,
        "invalid_request",
    )
    body = problem(
        await http.post(
            "/v1/items",
            json={"title": "", "commentaries": [{"network": "myspace", "text": "hi"}]},
            headers=curator,
        ),
        422,
        "validation_failed",
    )
    assert {v["field"] for v in body["violations"]} >= {
        "body.title",
        "body.url",
        "body.commentaries.0.network",
    }

    bad = (
        await http.post(
            "/v1/items",
            json=item_body(
                url="https://evil.example/x",
                summary="guaranteed returns",
                commentaries=[{"network": "x", "text": "a" * 300}],
            ),
            headers=curator,
        )
    ).json()
    body = problem(
        await http.post(f"/v1/items/{bad['id']}/submit", headers=curator), 422, "validation_failed"
    )
    assert body["rules"] == ["banned_term", "domain_not_allowed", "too_long"]
    assert len(body["violations"]) == 3
    # No item, not even a draft, links anywhere but to an http(s) page.
    for url in ("javascript:alert(document.cookie)", "data:text/html,hi", "https://"):
        body = problem(
            await http.post("/v1/items", json=item_body(url=url), headers=curator),
            422,
            "validation_failed",
        )
        assert [v["field"] for v in body["violations"]] == ["url"], url
    problem(
        await http.put(
            f"/v1/items/{item_id}",
            json=item_body(url="javascript:alert(1)"),
            headers={**curator, "If-Match": '"1"'},
        ),
        422,
        "validation_failed",
    )

    assert (await http.post(f"/v1/items/{item_id}/submit", headers=curator)).status_code == 200
    body = problem(
        await http.post(f"/v1/items/{item_id}/approve", headers=curator), 403, "forbidden"
    )
    assert body["rule"] == "four_eyes"
    problem(
        await http.post(
            f"/v1/items/{item_id}/reject",
            json={"reason": ""},
            headers=bearer(tenant, "alice", "approver"),
        ),
        422,
        "validation_failed",
    )


async def test_a_token_of_one_tenant_never_reaches_another_tenant(content: Content) -> None:
    tenant, intruder = unique("acme"), unique("globex")
    await set_program(content, tenant)
    item = await approved_item(content, tenant)
    item_id = item["id"]
    http = content.http
    outsider = bearer(intruder, "mallory", "admin", "curator", "approver", "advocate")
    for method, path, body in [
        ("GET", f"/v1/items/{item_id}", None),
        ("PUT", f"/v1/items/{item_id}", item_body()),
        ("POST", f"/v1/items/{item_id}/submit", None),
        ("POST", f"/v1/items/{item_id}/approve", None),
        ("POST", f"/v1/items/{item_id}/reject", {"reason": "x"}),
        ("POST", f"/v1/items/{item_id}/revise", None),
        ("POST", f"/v1/items/{item_id}/retract", {"reason": "x"}),
    ]:
        headers = {**outsider, "If-Match": '"1"'}
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
    listed = await http.get("/v1/items", headers=outsider)
    assert listed.json()["items"] == []
    assert (await http.get("/v1/feed", headers=outsider)).json()["items"] == []
    program = (await http.get("/v1/program", headers=outsider)).json()
    assert program["tenant"] == intruder and program["policy_version"] == 0
    still = await http.get(f"/v1/items/{item_id}", headers=bearer(tenant, "carol", "curator"))
    assert still.json()["state"] == "live"


async def test_enrollment_is_voluntary_versioned_and_erasable(
    content: Content, kafka_bootstrap: str
) -> None:
    tenant = unique("acme")
    http = content.http
    advocate = bearer(tenant, "bob", "advocate")
    problem(
        await http.put("/v1/enrollment", json={"policy_version": 1}, headers=advocate),
        409,
        "invalid_state",
    )
    program = await set_program(content, tenant)
    assert program["policy_version"] == 1
    since = await end_offsets(kafka_bootstrap, ADVOCATE_LIFECYCLE.name)
    body = problem(
        await http.put("/v1/enrollment", json={"policy_version": 2}, headers=advocate),
        422,
        "validation_failed",
    )
    assert body["current_policy_version"] == 1
    enrolled = await http.put(
        "/v1/enrollment",
        headers=advocate,
        json={
            "policy_version": 1,
            "groups": ["sales"],
            "department": "Sales",
            "languages": ["en"],
            "audience": {"linkedin": 850},
        },
    )
    assert (enrolled.json()["status"], enrolled.json()["audience"]) == (
        "enrolled",
        {"linkedin": 850},
    )
    feed = (await http.get("/v1/feed", headers=advocate)).json()
    assert feed["enrolled"] and feed["policy_acknowledged"]

    await set_program(content, tenant, policy_text=POLICY + " Be kind.")
    feed = (await http.get("/v1/feed", headers=advocate)).json()
    assert feed["enrolled"] and not feed["policy_acknowledged"]

    assert (await http.delete("/v1/enrollment", headers=advocate)).json()["status"] == "opted_out"
    problem(
        await http.post("/v1/advocates/bob/erasure", headers=bearer(tenant, "eve", "advocate")),
        403,
        "forbidden",
    )
    assert (await http.post("/v1/advocates/bob/erasure", headers=advocate)).status_code == 202
    problem(await http.get("/v1/enrollment", headers=advocate), 404, "not_found")

    key = f"{tenant}:bob".encode()
    records = await read_topic(
        kafka_bootstrap,
        ADVOCATE_LIFECYCLE.name,
        expect=3,
        since=since,
        where=lambda r: r.key == key,
    )
    events = [AdvocateLifecycle.FromString(r.value) for r in records]
    assert [e.change for e in events] == [
        AdvocateLifecycle.CHANGE_ENROLLED,
        AdvocateLifecycle.CHANGE_OPTED_OUT,
        AdvocateLifecycle.CHANGE_ERASED,
    ]
    assert events[0].groups == ["sales"] and events[0].policy_version == 1
    assert [(a.network, a.size) for a in events[0].audience] == [(NETWORK_LINKEDIN, 850)]
    assert events[2].groups == [] and events[2].department == "" and not events[2].audience
    # What the tombstone keeps names no audience.
    client = mongo_client(content.settings)
    tombstone = await client[content.settings.database_name]["enrollments"].find_one(
        {"tenant": tenant, "advocate": "bob"}
    )
    await client.close()
    assert tombstone is not None and tombstone["declared_audience"] == {}


async def test_the_feed_targets_orders_pages_and_marks_shares(
    content: Content, kafka_bootstrap: str
) -> None:
    tenant = unique("acme")
    http = content.http
    await set_program(content, tenant, frequency={"per_day": 1, "per_week": 5})
    now = datetime.now(UTC)
    low = await approved_item(content, tenant, title="low", priority=1)
    high = await approved_item(content, tenant, title="high", priority=9)
    newer_low = await approved_item(content, tenant, title="newer low", priority=1)
    await approved_item(content, tenant, title="for hr", audience={"groups": ["hr"]})
    await approved_item(
        content, tenant, title="future", publish_at=(now + timedelta(days=1)).isoformat()
    )
    await approved_item(content, tenant, title="german", audience={"languages": ["de"]})
    sales = await approved_item(
        content, tenant, title="sales only", audience={"groups": ["sales"]}, priority=5
    )
    advocate = bearer(tenant, "bob", "advocate", groups=("sales",))
    await http.put(
        "/v1/enrollment", headers=advocate, json={"policy_version": 1, "languages": ["en"]}
    )

    first = (await http.get("/v1/feed?limit=2", headers=advocate)).json()
    second = (
        await http.get(f"/v1/feed?limit=2&cursor={first['next_cursor']}", headers=advocate)
    ).json()
    assert second["next_cursor"] is None
    titles = [e["item"]["title"] for e in first["items"] + second["items"]]
    assert titles == ["high", "sales only", "newer low", "low"]
    assert {e["item"]["id"] for e in first["items"] + second["items"]} == {
        low["id"],
        high["id"],
        newer_low["id"],
        sales["id"],
    }
    assert first["frequency"]["reached"] is False

    producer = EventProducer(kafka_bootstrap, source="/test", metrics=Metrics(), client_id="t")
    await producer.start()
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    share = SharePerformed(
        tenant=tenant,
        advocate="bob",
        share_id="s1",
        content_id=high["id"],
        network=NETWORK_LINKEDIN,
        mode=SHARE_MODE_API,
        performed_at=stamp,
    )
    try:
        for _ in range(2):  # a redelivered share counts once
            await producer.publish(SHARE_PERFORMED, f"{tenant}:bob", share)
    finally:
        await producer.stop()

    async def marked() -> dict[str, Any] | None:
        feed = (await http.get("/v1/feed", headers=advocate)).json()
        return feed if feed["items"][0]["shared_on"] else None

    feed = await eventually(marked, timeout=30)
    assert feed["items"][0]["shared_on"] == ["linkedin"]
    assert feed["frequency"]["shares_today"] == 1
    assert feed["frequency"]["reached"] is True

    # The feed answers from the database: an approval or a retraction made after
    # the advocate read it shows at once (an earlier in-memory snapshot never did).
    urgent = await approved_item(content, tenant, title="URGENT", priority=10)
    curator = bearer(tenant, "carol", "curator")
    etag = (await http.get(f"/v1/items/{high['id']}", headers=curator)).headers["ETag"]
    retracted = await http.post(
        f"/v1/items/{high['id']}/retract",
        json={"reason": "outdated"},
        headers={**curator, "If-Match": etag},
    )
    assert retracted.status_code == 200, retracted.text
    feed = (await http.get("/v1/feed", headers=advocate)).json()
    titles = [e["item"]["title"] for e in feed["items"]]
    assert titles == ["URGENT", "sales only", "newer low", "low"]
    assert feed["items"][0]["item"]["id"] == urgent["id"]


def _rich_details(error: grpc.aio.AioRpcError) -> list[Any]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    raise AssertionError("no rich status")


async def test_grpc_calls_the_same_use_cases_with_rich_errors(content: Content) -> None:
    tenant = unique("acme")
    await set_program(content, tenant)

    def meta(*roles: str, subject: str = "carol") -> list[tuple[str, str]]:
        return [("authorization", bearer(tenant, subject, *roles)["Authorization"])]

    async with grpc.aio.insecure_channel(f"127.0.0.1:{content.grpc_port}") as channel:
        stub = pb_grpc.ContentServiceStub(channel)
        fields = pb.ItemFields(
            title="Plant",
            url="https://acme.example/p",
            commentaries=[Commentary(network=NETWORK_LINKEDIN, text="Proud!")],
        )
        created = (
            await stub.CreateItem(
                pb.CreateItemRequest(fields=fields), metadata=meta("curator", "approver")
            )
        ).item
        assert created.state == "draft" and created.version == 1
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateItem(
                pb.CreateItemRequest(fields=pb.ItemFields(url="nope")), metadata=meta("curator")
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        bad_request = error_details_pb2.BadRequest()
        assert _rich_details(caught.value)[1].Unpack(bad_request)
        assert "title" in {v.field for v in bad_request.field_violations}

        await stub.SubmitItem(
            pb.SubmitItemRequest(item_id=created.id, if_match=1), metadata=meta("curator")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ApproveItem(
                pb.ApproveItemRequest(item_id=created.id), metadata=meta("curator", "approver")
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        info = error_details_pb2.ErrorInfo()
        assert _rich_details(caught.value)[0].Unpack(info) and info.reason == "FORBIDDEN"
        assert info.metadata["rule"] == "four_eyes"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ReviseItem(
                pb.ReviseItemRequest(item_id=created.id), metadata=meta("curator")
            )
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (
            _rich_details(caught.value)[0].Unpack(info)
            and info.metadata["current_state"] == "in_review"
        )

        approved = await stub.ApproveItem(
            pb.ApproveItemRequest(item_id=created.id), metadata=meta("approver", subject="alice")
        )
        assert approved.item.state == "live"
        await stub.Enroll(
            pb.EnrollRequest(policy_version=1), metadata=meta("advocate", subject="bob")
        )
        feed = await stub.GetFeed(
            pb.GetFeedRequest(limit=5), metadata=meta("advocate", subject="bob")
        )
        assert [e.item.id for e in feed.entries] == [created.id]
        assert feed.enrolled and feed.policy_acknowledged


async def test_a_crash_between_write_and_publish_still_yields_exactly_one_event(
    content: Content, kafka_bootstrap: str
) -> None:
    """The first process writes the approval with its pending event and dies
    before publishing (its relay never runs); the next process publishes it once."""
    tenant = unique("acme")
    await set_program(content, tenant)
    settings = content.settings
    since = await end_offsets(kafka_bootstrap, CONTENT_APPROVED.name)
    client = mongo_client(settings)
    store = ContentStore(client[settings.database_name])
    crashed = ContentApp(store)  # no relay runs: the events stay in the outbox
    curator = Principal("carol", tenant, frozenset({"curator"}))
    view = await crashed.create_item(
        curator, ItemFields(title="t", url="https://acme.example/x"), None
    )
    await crashed.submit(curator, view.item.id, None)
    await crashed.approve(Principal("alice", tenant, frozenset({"approver"})), view.item.id, None)
    await client.close()

    key = f"{tenant}:{view.item.id}".encode()
    # The running service's relay (the "restarted process") finds the pending event.
    records = await read_topic(
        kafka_bootstrap,
        CONTENT_APPROVED.name,
        expect=1,
        since=since,
        where=lambda r: r.key == key,
        timeout=30,
    )
    assert len(records) == 1
    await asyncio.sleep(1.5)  # another relay pass publishes nothing more
    again = await read_topic(
        kafka_bootstrap, CONTENT_APPROVED.name, expect=1, since=since, where=lambda r: r.key == key
    )
    assert len(again) == 1
