"""The engagement service against the real broker, MongoDB and the platform
simulator: tracked links, redirects and click quality, retraction, signed
webhooks, metric polling without double counting, queries per tenant."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.common.v1.common_pb2 import NETWORK_X, SHARE_MODE_API
from chorus.contracts.content.v1.events_pb2 import ContentRetracted
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1 import engagement_service_pb2 as pb
from chorus.contracts.engagement.v1 import engagement_service_pb2_grpc as pb_grpc
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_KIND_CLICK as CLICK,
)
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_KIND_COMMENT as COMMENT,
)
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_KIND_REACTION as REACTION,
)
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_KIND_UNIQUE_CLICK as UNIQUE,
)
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_SOURCE_POLL as POLL,
)
from chorus.contracts.engagement.v1.events_pb2 import (
    ENGAGEMENT_SOURCE_WEBHOOK as WEBHOOK,
)
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.engagement.domain.webhooks import sign
from chorus.engagement.main import EngagementSettings, build
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_RETRACTED, ENGAGEMENT_OBSERVED, SHARE_PERFORMED
from chorus_testing import (
    bearer,
    drop_database,
    end_offsets,
    eventually,
    mint_link,
    read_topic,
    running,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}
OTHER_BROWSER = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari"}
SECRET = "whsec-" + "k" * 40


class Engagement:
    def __init__(
        self, http: httpx.AsyncClient, grpc_port: int, sim: httpx.AsyncClient, kafka: str
    ) -> None:
        self.http = http
        self.grpc_port = grpc_port
        self.sim = sim
        self.kafka = kafka

    async def publish(self, topic: Any, key: str, message: Any) -> None:
        producer = EventProducer(self.kafka, source="/test", metrics=Metrics(), client_id="t")
        await producer.start()
        try:
            await producer.publish(topic, key, message)
        finally:
            await producer.stop()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engagement(
    kafka_bootstrap: str,
    mongo_url: str,
    simulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Engagement]:
    async with httpx.AsyncClient(base_url=simulator_url) as sim:
        app_token = (
            await sim.post(
                "/_sim/tokens",
                json={
                    "network": "x",
                    "user_id": "chorus-app",
                    "scopes": ["tweet.read"],
                    "expires_in": 86400,
                },
            )
        ).json()["token"]
        settings = EngagementSettings(
            kafka_bootstrap=kafka_bootstrap,
            mongo_url=mongo_url,
            mongo_database=unique("test_engagement").replace("-", "_"),
            http_port=0,
            grpc_port=0,
            journal_dir=tmp_path_factory.mktemp("journal"),
            instance_id=unique("engagement"),
            poll_interval_seconds=0.3,
            x_api_base_url=simulator_url,
            x_app_bearer_token=app_token,
            public_base_url="http://chorus.test",
        )
        async with running(build(settings)) as service:
            base = f"http://127.0.0.1:{service.bound_http_port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                yield Engagement(http, service.grpc.port, sim, kafka_bootstrap)
        await drop_database(mongo_url, settings.database_name)


async def make_link(
    e: Engagement, tenant: str, share_id: str, network: str = "linkedin", advocate: str = "bob"
) -> dict[str, Any]:
    return await mint_link(
        e.http,
        e.kafka,
        tenant,
        url="https://acme.example/news?id=7",
        share_id=share_id,
        network=network,
        advocate=advocate,
    )


async def link_over_grpc(e: Engagement, tenant: str, share_id: str, url: str) -> Any:
    """CreateTrackedLink as distribution calls it, for bob's share of c-1."""
    service_token = bearer(tenant, "distribution", "service")["Authorization"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{e.grpc_port}") as channel:
        return await pb_grpc.EngagementServiceStub(channel).CreateTrackedLink(
            pb.CreateTrackedLinkRequest(
                share_id=share_id, network=1, content_id="c-1", advocate="bob", url=url
            ),
            metadata=[("authorization", service_token)],
        )


def events_of(records: list[Any]) -> list[EngagementObserved]:
    return [EngagementObserved.FromString(r.value) for r in records]


async def test_links_are_idempotent_and_carry_utm(engagement: Engagement) -> None:
    tenant = unique("acme")
    first = await make_link(engagement, tenant, "s-1")
    again = await make_link(engagement, tenant, "s-1")
    assert first == again
    assert first["short_url"] == f"http://chorus.test/r/{first['code']}"
    assert first["target_url"] == (
        "https://acme.example/news?id=7&utm_source=linkedin&utm_medium=advocacy&utm_campaign=c-1"
    )
    reply = await link_over_grpc(engagement, tenant, "s-1", "https://acme.example/news?id=7")
    assert reply.link.code == first["code"]
    refused = await engagement.http.post(
        "/v1/links",
        headers=bearer(tenant, "x", "advocate"),
        json={"share_id": "s", "network": "myspace", "content_id": "c", "url": "https://a.example"},
    )
    assert refused.status_code == 422


async def test_no_link_goes_anywhere_but_to_a_live_items_own_url(engagement: Engagement) -> None:
    """No open redirect: a company short link to an attacker's page is refused,
    as is one for an item that is unknown or retracted, on REST and gRPC."""
    tenant = unique("acme")
    await make_link(engagement, tenant, "s-1")  # c-1 is live at https://acme.example/news?id=7

    async def asked(content_id: str, url: str) -> httpx.Response:
        body = {"share_id": "s-9", "network": "x", "content_id": content_id, "url": url}
        return await engagement.http.post(
            "/v1/links", json=body, headers=bearer(tenant, "mallory", "advocate")
        )

    phish = await asked("c-1", "https://evil.example/phish")
    assert phish.status_code == 422, phish.text
    assert phish.json()["violations"][0]["field"] == "url"
    unknown = await asked("c-404", "https://acme.example/news?id=7")
    assert unknown.status_code == 409 and unknown.json()["reason"] == "content_not_live"
    own = await asked("c-1", "https://acme.example/news?id=7")  # the item's own URL
    assert own.status_code == 201
    other = await engagement.http.post(  # the same item id in another tenant: unknown there
        "/v1/links",
        json={
            "share_id": "s",
            "network": "x",
            "content_id": "c-1",
            "url": "https://acme.example/news?id=7",
        },
        headers=bearer(unique("globex"), "mallory", "advocate"),
    )
    assert other.status_code == 409

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await link_over_grpc(engagement, tenant, "s-8", "https://evil.example/phish")
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT

    await engagement.publish(
        CONTENT_RETRACTED, f"{tenant}:c-1", ContentRetracted(tenant=tenant, content_id="c-1")
    )

    async def withdrawn() -> bool:
        return (await asked("c-1", "https://acme.example/news?id=7")).status_code == 409

    await eventually(withdrawn, timeout=30, interval=0.2)


async def test_clicks_bots_and_unique_visitors(engagement: Engagement) -> None:
    tenant = unique("acme")
    link = await make_link(engagement, tenant, "s-2")
    since = await end_offsets(engagement.kafka, ENGAGEMENT_OBSERVED.name)
    http = engagement.http
    path = f"/r/{link['code']}"
    bot = await http.get(path, headers={"user-agent": "LinkedInBot/1.0"})
    head = await http.head(path, headers=BROWSER)
    assert bot.status_code == head.status_code == 302
    for headers in (BROWSER, BROWSER, OTHER_BROWSER):
        response = await http.get(path, headers=headers)
        assert response.status_code == 302
        assert response.headers["location"] == link["target_url"]
        assert response.headers["cache-control"] == "no-store"
    missing = await http.get("/r/AAAAAAAAAA")
    assert missing.status_code == 404 and "does not exist" in missing.text

    records = await read_topic(
        engagement.kafka,
        ENGAGEMENT_OBSERVED.name,
        expect=5,
        since=since,
        where=lambda r: r.key == f"{tenant}:bob".encode(),
    )
    kinds = sorted(e.kind for e in events_of(records))
    assert kinds == [CLICK, CLICK, CLICK, UNIQUE, UNIQUE]  # three clicks, two visitors
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["ce_type"] == "chorus.contracts.engagement.v1.EngagementObserved"
    event = events_of(records)[0]
    assert (event.tenant, event.share_id, event.content_id) == (tenant, "s-2", "c-1")

    async def totals() -> dict[str, int] | None:
        response = await http.get(
            "/v1/shares/s-2/engagement", headers=bearer(tenant, "bob", "advocate")
        )
        body: dict[str, int] = response.json()
        return body if body.get("click") == 3 else None

    assert await eventually(totals) == {"click": 3, "unique_click": 2}
    mine = await http.get("/v1/advocates/bob/engagement", headers=bearer(tenant, "bob", "advocate"))
    assert mine.json() == {"click": 3, "unique_click": 2}
    other_tenant = await http.get(
        "/v1/shares/s-2/engagement", headers=bearer(unique("globex"), "bob", "advocate")
    )
    assert other_tenant.json() == {}
    nosy = await http.get("/v1/advocates/bob/engagement", headers=bearer(tenant, "eve", "advocate"))
    assert nosy.status_code == 403

    auth = bearer(tenant, "bob", "advocate")
    batch = await http.get("/v1/engagement/shares?share_id=s-2&share_id=s-none", headers=auth)
    assert batch.json() == {"s-2": {"click": 3, "unique_click": 2}, "s-none": {}}
    too_many = "&".join(f"share_id=s-{n}" for n in range(101))
    refused = await http.get(f"/v1/engagement/shares?{too_many}", headers=auth)
    assert refused.status_code == 422, refused.text
    async with grpc.aio.insecure_channel(f"127.0.0.1:{engagement.grpc_port}") as channel:
        reply = await pb_grpc.EngagementServiceStub(channel).BatchGetShareEngagement(
            pb.BatchGetShareEngagementRequest(share_ids=["s-2"]),
            metadata=[("authorization", auth["Authorization"])],
        )
    assert dict(reply.totals["s-2"].counts) == {"click": 3, "unique_click": 2}


async def test_links_of_retracted_content_no_longer_redirect(engagement: Engagement) -> None:
    tenant = unique("acme")
    link = await make_link(engagement, tenant, "s-3")
    assert (await engagement.http.get(f"/r/{link['code']}", headers=BROWSER)).status_code == 302
    await engagement.publish(
        CONTENT_RETRACTED,
        f"{tenant}:c-1",
        ContentRetracted(tenant=tenant, content_id="c-1", reason="old"),
    )

    async def withdrawn() -> httpx.Response | None:
        response = await engagement.http.get(f"/r/{link['code']}", headers=BROWSER)
        return response if response.status_code == 410 else None

    page = await eventually(withdrawn, timeout=20)
    assert "no longer available" in page.text and "location" not in page.headers


async def test_signed_webhooks_record_once_and_refuse_bad_input(engagement: Engagement) -> None:
    tenant = unique("acme")
    http = engagement.http
    await make_link(engagement, tenant, "s-4")
    assert (
        await http.put(
            "/v1/settings/webhook-secret",
            json={"secret": SECRET},
            headers=bearer(tenant, "ada", "admin"),
        )
    ).status_code == 204
    since = await end_offsets(engagement.kafka, ENGAGEMENT_OBSERVED.name)
    url = f"/v1/webhooks/{tenant}/engagement"

    def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
        stamp = str(int(at if at is not None else time.time()))
        return {
            "X-Chorus-Timestamp": stamp,
            "X-Chorus-Signature": sign(secret, stamp, body),
            "content-type": "application/json",
        }

    body = json.dumps(
        {
            "event_id": "intranet-1",
            "share_id": "s-4",
            "network": "linkedin",
            "kind": "reaction",
            "delta": 4,
        }
    ).encode()
    first = await http.post(url, content=body, headers=signed(body))
    replay = await http.post(url, content=body, headers=signed(body))
    assert first.status_code == replay.status_code == 202
    assert first.json() == {"recorded": True} and replay.json() == {"recorded": False}

    assert (
        await http.post(url, content=body, headers=signed(body, secret="x" * 40))
    ).status_code == 401
    assert (
        await http.post(url, content=body, headers=signed(body, at=time.time() - 3600))
    ).status_code == 401
    assert (
        await http.post(url, content=body, headers={"content-type": "application/json"})
    ).status_code == 401
    for bad in (
        b"{not json",
        json.dumps(
            {"event_id": "e", "share_id": "s-4", "network": "linkedin", "kind": "hug", "delta": -1}
        ).encode(),
        json.dumps(
            {
                "event_id": "e",
                "share_id": "nope",
                "network": "linkedin",
                "kind": "reaction",
                "delta": 1,
            }
        ).encode(),
    ):
        response = await http.post(url, content=bad, headers=signed(bad))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"

    records = await read_topic(
        engagement.kafka,
        ENGAGEMENT_OBSERVED.name,
        expect=1,
        since=since,
        where=lambda r: r.key == f"{tenant}:bob".encode(),
    )
    assert [(e.kind, e.delta, e.source) for e in events_of(records)] == [(REACTION, 4, WEBHOOK)]


async def test_polling_emits_only_deltas_across_restarts(
    engagement: Engagement,
    kafka_bootstrap: str,
    mongo_url: str,
    simulator_url: str,
    tmp_path: Path,
) -> None:
    tenant = unique("acme")
    sim = engagement.sim
    user_token = (await sim.post("/_sim/tokens", json={"network": "x", "user_id": "u-bob"})).json()[
        "token"
    ]
    posted = await sim.post(
        "/2/tweets",
        json={"text": "Proud! https://chorus.test/r/x"},
        headers={"Authorization": f"Bearer {user_token}"},
    )
    tweet_id = posted.json()["data"]["id"]
    await sim.post(f"/_sim/posts/{tweet_id}/metrics", json={"reaction": 3, "comment": 1})
    since = await end_offsets(kafka_bootstrap, ENGAGEMENT_OBSERVED.name)
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) - timedelta(days=8))  # every poll of it is due
    await engagement.publish(
        SHARE_PERFORMED,
        f"{tenant}:bob",
        SharePerformed(
            tenant=tenant,
            advocate="bob",
            share_id="s-5",
            content_id="c-1",
            network=NETWORK_X,
            mode=SHARE_MODE_API,
            post_ref=tweet_id,
            performed_at=stamp,
        ),
    )
    key = f"{tenant}:bob".encode()

    first = await read_topic(
        kafka_bootstrap,
        ENGAGEMENT_OBSERVED.name,
        expect=2,
        since=since,
        where=lambda r: r.key == key,
    )
    assert sorted((e.kind, e.delta) for e in events_of(first)) == [(REACTION, 3), (COMMENT, 1)]
    await sim.post(f"/_sim/posts/{tweet_id}/metrics", json={"reaction": 5})
    after = await read_topic(
        kafka_bootstrap,
        ENGAGEMENT_OBSERVED.name,
        expect=3,
        since=since,
        where=lambda r: r.key == key,
        timeout=20,
    )
    deltas: dict[int, int] = {}
    for event in events_of(after):
        assert event.source == POLL
        deltas[event.kind] = deltas.get(event.kind, 0) + event.delta
    assert deltas == {REACTION: 5, COMMENT: 1}
    assert len({dict(r.headers)["ce_id"] for r in after}) == len(after)


async def test_public_routes_refuse_a_flooding_client_with_429_and_retry_after(
    kafka_bootstrap: str, mongo_url: str, tmp_path: Path
) -> None:
    settings = EngagementSettings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        mongo_database=unique("test_engagement_limits").replace("-", "_"),
        http_port=0,
        grpc_port=0,
        journal_dir=tmp_path,
        instance_id=unique("engagement"),
        public_rate_per_second=0.2,
        public_rate_burst=3,
        trusted_proxy_hops=1,  # behind one ingress
    )

    def via_ingress(client: str, claimed: str = "") -> dict[str, str]:
        # The ingress appends the address it was called from; `claimed` is what
        # the client wrote itself.
        return {**BROWSER, "x-forwarded-for": ", ".join(filter(None, (claimed, client)))}

    async with running(build(settings)) as service:
        base = f"http://127.0.0.1:{service.bound_http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            flood = [
                await http.get("/r/AAAAAAAAAA", headers=via_ingress("203.0.113.9", f"10.0.0.{n}"))
                for n in range(4)
            ]
            assert [r.status_code for r in flood] == [404, 404, 404, 429]
            refused = flood[-1]
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 5
            # Someone else, and the same client on another public route, go on.
            other = await http.get("/r/AAAAAAAAAA", headers=via_ingress("198.51.100.7"))
            assert other.status_code == 404
            webhook = await http.post(
                f"/v1/webhooks/{unique('acme')}/engagement",
                content=b"{}",
                headers=via_ingress("203.0.113.9"),
            )
            assert webhook.status_code != 429
            metrics = (await http.get("/metrics")).text
            assert 'chorus_http_rate_limited_total{limit="redirect"} 1.0' in metrics
    await drop_database(mongo_url, settings.database_name)
