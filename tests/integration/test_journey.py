"""The whole platform as real processes — content, distribution, engagement,
gamification, insights and the platform simulator — driven only through their public
APIs, the way people use it; and one OpenTelemetry trace from a share request
through every service that handles its consequences.

Spans are collected by an OTLP/HTTP receiver in this test: the services
export to it exactly as they would to a collector."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from hub_support import (
    browser,
    screenshot_on_failure,
    serious_violations,
    shown,
    sign_in,
    violations_on,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from playwright.async_api import BrowserContext, expect
from playwright.async_api import Page as PlaywrightPage
from pymongo import AsyncMongoClient

from chorus.contracts.common.v1.common_pb2 import SHARE_MODE_API
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.demo.activity import plan, seed_activity
from chorus.demo.platform import Endpoints, Platform
from chorus.demo.seed import ADMIN, ADVOCATES, ITEMS, PROGRAM, seed
from chorus.gamification.domain.rules import DEFAULT_RULES, Action
from chorus.hub.adapters.sessions import SessionStore
from chorus.hub.web.security import SESSION_COOKIE
from chorus.kit.admin import delete_namespace, ensure_topics, topic_specs
from chorus.kit.crypto import DEV_TOKEN_KEYS, TokenCipher
from chorus.kit.envelope import Encoder
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import ENGAGEMENT_OBSERVED, SHARE_PERFORMED
from chorus_testing import (
    Receive,
    Scope,
    Send,
    drop_database,
    end_offsets,
    eventually,
    free_port,
    start_service,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}
OTHER_BROWSER = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari"}
BOT = {"user-agent": "LinkedInBot/1.0"}
SERVICES = ("content", "distribution", "engagement", "gamification", "insights")
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    trace_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    # Traces this span links to (a batch consumer's span links its records').
    linked: frozenset[str] = frozenset()
    span_id: str = ""
    parent_id: str = ""


@dataclass
class SpanReceiver:
    """An OTLP/HTTP traces endpoint (protobuf), as an ASGI app."""

    spans: list[CollectedSpan] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/v1/traces":
            self._collect(ExportTraceServiceRequest.FromString(body))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send(
            {"type": "http.response.body", "body": ExportTraceServiceResponse().SerializeToString()}
        )

    def _collect(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {
                        a.key: a.value.string_value or a.value.int_value for a in span.attributes
                    }
                    self.spans.append(
                        CollectedSpan(
                            resource.get("service.name", ""),
                            span.trace_id.hex(),
                            span.name,
                            span.kind,
                            attributes,
                            frozenset(link.trace_id.hex() for link in span.links),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                        )
                    )

    def of_trace(self, trace_id: str) -> list[CollectedSpan]:
        """The trace's spans and the spans linked to it."""
        return [s for s in self.spans if s.trace_id == trace_id or trace_id in s.linked]


@dataclass
class Running:
    platform: Platform
    endpoints: Endpoints
    receiver: SpanReceiver
    kafka: str
    # The journey's topic namespace (CHORUS_TOPIC_PREFIX): nothing it
    # produces is left for other tests or for `make run`.
    prefix: str
    # Where the services export their spans (the receiver's OTLP endpoint).
    otlp_endpoint: str


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def running(
    kafka_bootstrap: str,
    mongo_url: str,
    simulator_url: str,
    oidc_issuer: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Running]:
    receiver = SpanReceiver()
    receiver_port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver, port=receiver_port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    http_ports = {name: free_port() for name in SERVICES}
    grpc_ports = {name: free_port() for name in SERVICES}
    endpoints = Endpoints(
        **{name: f"http://127.0.0.1:{port}" for name, port in http_ports.items()},
        simulator=simulator_url,
    )
    databases = {name: unique(f"journey_{name}").replace("-", "_") for name in SERVICES}
    state = tmp_path_factory.mktemp("journey")
    app_id = unique("journey-gamification")
    prefix = f"{unique('journey')}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    common = {
        **os.environ,
        "CHORUS_TOPIC_PREFIX": prefix,
        "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_LOG_LEVEL": "WARNING",
        OTLP_ENDPOINT: f"http://127.0.0.1:{receiver_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "CHORUS_LINKEDIN_API_BASE_URL": simulator_url,
        "CHORUS_X_API_BASE_URL": simulator_url,
        # People signed in at the provider call with its tokens; the tests mint
        # theirs with the development key, trusted beside it in development.
        "CHORUS_JWT_JWKS_URL": f"{oidc_issuer}/protocol/openid-connect/certs",
        "CHORUS_JWT_ISSUER": oidc_issuer,
    }
    extra = {
        "distribution": {
            "CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{grpc_ports['engagement']}",
            # As for an app LinkedIn admitted to its Connections Size API.
            "CHORUS_LINKEDIN_CONNECTIONS_SIZE": "true",
            # Connecting in the browser consents at the simulator's page.
            "CHORUS_LINKEDIN_AUTHORIZE_URL": f"{simulator_url}/oauth/v2/authorization",
        },
        "engagement": {
            "CHORUS_PUBLIC_BASE_URL": endpoints.engagement,
            "CHORUS_JOURNAL_DIR": str(state / "journal"),
            "CHORUS_INSTANCE_ID": unique("journey"),
        },
        "gamification": {
            "CHORUS_ENGINE_APP_ID": app_id,
            "CHORUS_LEADERBOARD_CACHE_SECONDS": "0",
        },
    }
    processes: list[asyncio.subprocess.Process] = []
    try:
        for name in ("engagement", "content", "distribution", "gamification", "insights"):
            env = {
                **common,
                **extra.get(name, {}),
                "CHORUS_MONGO_DATABASE": databases[name],
                "CHORUS_HTTP_PORT": str(http_ports[name]),
                "CHORUS_GRPC_PORT": str(grpc_ports[name]),
            }
            executable = str(Path(sys.executable).with_name(f"chorus-{name}"))
            processes.append(await start_service(executable, env, http_ports[name], timeout=90))
        async with httpx.AsyncClient(timeout=15) as http:
            platform = Platform(http, endpoints, unique("acme"))
            yield Running(
                platform, endpoints, receiver, kafka_bootstrap, prefix, common[OTLP_ENDPOINT]
            )
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
        server.should_exit = True
        await serving
        for database in databases.values():
            await drop_database(mongo_url, database)
        await delete_namespace(kafka_bootstrap, prefix)


def around_now() -> dict[str, str]:
    """Yesterday to tomorrow: whichever UTC day the test's activity fell on."""
    return {
        "period": "range",
        "from": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400)),
        "to": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400)),
    }


async def enrolled_with_linkedin(platform: Platform, advocate: str, item_id: str) -> None:
    program = await platform.set_program("ada", PROGRAM)
    await platform.enroll(advocate, int(program["policy_version"]), ["sales"])
    await platform.connect(advocate, "linkedin")
    known = f"{platform.endpoints.distribution}/v1/content/{item_id}"

    async def distribution_knows_the_item() -> bool:
        response = await platform.http.get(known, headers=platform.auth(advocate, "advocate"))
        return response.status_code == 200

    await eventually(distribution_knows_the_item, timeout=45, interval=0.3)


async def share_once_known(
    platform: Platform,
    advocate: str,
    item_id: str,
    networks: list[str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Distribution learns enrollments and approvals from content's events:
    until it has, a share is refused (nothing is created; an unknown item is
    404), so each attempt uses its own key."""
    attempt = 0

    async def shared() -> dict[str, Any] | None:
        nonlocal attempt
        attempt += 1
        body = {"content_id": item_id, "targets": [{"network": n} for n in networks]}
        response = await platform.http.post(
            f"{platform.endpoints.distribution}/v1/shares",
            json=body,
            headers={
                **platform.auth(advocate, "advocate"),
                "Idempotency-Key": f"{item_id}-{attempt}",
                **(headers or {}),
            },
        )
        if response.status_code in (403, 404, 409, 422):
            return None
        assert response.status_code == 201, response.text
        return dict(response.json())

    return await eventually(shared, timeout=45, interval=0.5)


async def network_status(
    platform: Platform, advocate: str, share_id: str, network: str
) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        share = await platform.share_status(advocate, share_id)
        status: dict[str, Any] = next(n for n in share["networks"] if n["network"] == network)
        return status if status["status"] in ("posted", "failed") else None

    result: dict[str, Any] = await eventually(final, timeout=45, interval=0.3)
    return result


async def test_the_journey_from_curation_to_the_leaderboard_and_retraction(
    running: Running,
) -> None:
    platform, advocate = running.platform, "bob"
    # A curator creates an item, an approver approves it.
    item = await platform.approved_item("carol", "alice", ITEMS[0], key=unique("item"))
    assert item["state"] == "live" and item["approved_by"] == "alice"

    # The advocate enrols, connects LinkedIn, reads the feed and shares.
    await enrolled_with_linkedin(platform, advocate, item["id"])
    assert item["id"] in [entry["item"]["id"] for entry in await platform.feed(advocate)]
    share = await share_once_known(platform, advocate, item["id"], ["linkedin", "facebook"])
    facebook = next(n for n in share["networks"] if n["network"] == "facebook")
    assert facebook["mode"] == "intent" and facebook["intent_url"]
    linkedin = await network_status(platform, advocate, share["id"], "linkedin")
    assert linkedin["status"] == "posted", linkedin
    await platform.confirm_intent(advocate, share["id"], "facebook")

    # The platform received exactly one post, carrying the tracked link.
    posts = await platform.posts_at_platform(advocate)
    assert len(posts) == 1
    tracked = linkedin["tracked_url"]
    assert tracked.startswith(f"{running.endpoints.engagement}/r/")
    assert posts[0]["link"] == tracked and tracked in posts[0]["text"]

    # A bot and three clicks, two of them from the same visitor.
    for headers in (BOT, BROWSER, BROWSER, OTHER_BROWSER):
        clicked = await platform.http.get(tracked, headers=headers)
        assert clicked.status_code == 302
        assert clicked.headers["location"].startswith(str(ITEMS[0]["url"]))

    # Points and the first badge reach the leaderboard within seconds.
    rules = DEFAULT_RULES
    expected = (
        2 * rules.unit_points(Action.SHARE, "linkedin")
        + 3 * rules.unit_points(Action.CLICK, "linkedin")
        + 2 * rules.unit_points(Action.UNIQUE_CLICK, "linkedin")
    )

    async def on_the_board() -> dict[str, Any] | None:
        board = await platform.leaderboard(advocate)
        entry = next((e for e in board["entries"] if e["advocate"] == advocate), None)
        return entry if entry and entry["points"] == expected else None

    entry = await eventually(on_the_board, timeout=20, interval=0.3)
    assert entry["rank"] == 1
    standing = await platform.standing(advocate)
    assert standing["points"] == standing["lifetime_points"] == expected
    assert [badge["badge"] for badge in standing["badges"]] == ["first-share"]

    # Retraction: the post is deleted at the platform and the link stops redirecting.
    await platform.retract("carol", item["id"], "outdated figures")

    async def withdrawn() -> bool:
        posts = await platform.posts_at_platform(advocate)
        gone = await platform.http.get(tracked, headers=BROWSER)
        return bool(posts) and all(p["deleted"] for p in posts) and gone.status_code == 410

    await eventually(withdrawn, timeout=45, interval=0.5)


async def test_potential_reach_counts_the_audiences_the_platforms_report_and_the_declared_one(
    running: Running,
) -> None:
    platform, advocate = running.platform, "gus"
    item = await platform.approved_item("carol", "alice", ITEMS[0], key=unique("item"))
    await platform.set_audience_at_platform(advocate, "x", 1234)
    await platform.set_audience_at_platform(advocate, "linkedin", 777)
    program = await platform.set_program("ada", PROGRAM)
    # Declared: what the platforms report wins for X and LinkedIn; Facebook,
    # which reports nothing, counts the declared 150.
    declared = {"linkedin": 300, "x": 50, "facebook": 150}
    await platform.enroll(advocate, int(program["policy_version"]), ["sales"], declared)
    await platform.connect(advocate, "linkedin")
    await platform.connect(advocate, "x")
    share = await share_once_known(platform, advocate, item["id"], ["linkedin", "x", "facebook"])
    await platform.confirm_intent(advocate, share["id"], "facebook")

    async def reached() -> dict[str, Any] | None:
        reach: dict[str, Any] = (await platform.my_insights(advocate, **around_now()))["reach"]
        return reach if reach["total"] == 1234 + 777 + 150 else None

    reach = await eventually(reached, timeout=45, interval=0.5)
    assert (reach["from_platform"], reach["declared"], reach["estimated"]) == (2011, 150, 0)


async def test_one_trace_from_the_share_request_through_every_service(running: Running) -> None:
    platform, advocate = running.platform, "dora"
    item = await platform.approved_item("carol", "alice", ITEMS[2], key=unique("item"))
    await enrolled_with_linkedin(platform, advocate, item["id"])
    trace_id = os.urandom(16).hex()
    traceparent = {"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"}
    share = await share_once_known(platform, advocate, item["id"], ["linkedin"], traceparent)
    await network_status(platform, advocate, share["id"], "linkedin")

    def consumed(service: str, topic: str) -> Callable[[CollectedSpan], bool]:
        return lambda span: (
            span.service == f"chorus-{service}"
            and span.kind == 5  # CONSUMER
            and span.attributes.get("messaging.system") == "kafka"
            and span.attributes.get("messaging.destination.name") == running.prefix + topic
        )

    wanted = {
        "distribution took the request": lambda s: (
            s.service == "chorus-distribution" and s.kind == 2 and s.name == "POST /v1/shares"
        ),
        "distribution published share.requested": lambda s: (
            s.service == "chorus-distribution"
            and s.kind == 4  # PRODUCER
            and s.attributes.get("messaging.destination.name") == running.prefix + "share.requested"
        ),
        "distribution posted from share.requested": consumed("distribution", "share.requested"),
        "distribution stored the share in MongoDB": lambda s: (
            s.service == "chorus-distribution"
            and s.kind == 3  # CLIENT
            and "mongodb" in (s.attributes.get("db.system"), s.attributes.get("db.system.name"))
        ),
        "distribution posted to the platform over HTTP": lambda s: (
            s.service == "chorus-distribution"
            and s.kind == 3
            and "POST" in (s.attributes.get("http.method"), s.attributes.get("http.request.method"))
            and "/rest/posts"
            in str(s.attributes.get("http.url") or s.attributes.get("url.full") or "")
        ),
        "distribution called engagement over gRPC": lambda s: (
            s.service == "chorus-distribution" and s.kind == 3 and "CreateTrackedLink" in s.name
        ),
        "engagement minted the tracked link": lambda s: (
            s.service == "chorus-engagement" and s.kind == 2 and "CreateTrackedLink" in s.name
        ),
        "engagement consumed share.performed": consumed("engagement", "share.performed"),
        "content marked the item shared": consumed("content", "share.performed"),
        "gamification scored share.performed": consumed("gamification", "share.performed"),
    }

    async def complete() -> list[str] | None:
        spans = running.receiver.of_trace(trace_id)
        missing = [name for name, matches in wanted.items() if not any(map(matches, spans))]
        return None if missing else ["ok"]

    try:
        await eventually(complete, timeout=30, interval=0.5)
    except AssertionError:
        spans = running.receiver.of_trace(trace_id)
        seen = sorted({(s.service, s.kind, s.name) for s in spans})
        missing = [name for name, matches in wanted.items() if not any(map(matches, spans))]
        pytest.fail(f"missing {missing}; the trace has {seen}")


async def test_the_demo_seed_is_complete_and_a_second_run_changes_nothing(
    running: Running,
) -> None:
    platform = Platform(running.platform.http, running.endpoints, unique("demo"))
    items = await seed(platform)
    assert [item["state"] for item in items] == ["live"] * len(ITEMS)
    accounts = {a: await platform.accounts(a) for a in ADVOCATES}
    for index, advocate in enumerate(ADVOCATES):
        networks = sorted(account["network"] for account in accounts[advocate])
        assert networks == (["linkedin", "x"] if index % 2 == 0 else ["linkedin"])
        # X access tokens last 2 h (refreshable), so they count as expiring at once.
        assert {account["health"] for account in accounts[advocate]} <= {"active", "expiring"}
        enrollment = await platform.http.get(
            f"{running.endpoints.content}/v1/enrollment",
            headers=platform.auth(advocate, "advocate"),
        )
        assert enrollment.status_code == 200 and enrollment.json()["status"] == "enrolled"

    # The activity: 12 of the 20 shared, unevenly, and the dashboard says so.
    item_ids = [str(item["id"]) for item in items]
    assert await seed_activity(platform, ADMIN, ADVOCATES, item_ids) == len(plan(ADVOCATES, 3))
    posts = len(await platform_posts(platform))

    async def dashboard() -> dict[str, Any] | None:
        found = await platform_dashboard(platform)
        engaged = found["engagement"]
        clicked = engaged["clicks"] == planned_clicks(item_ids)
        return found if clicked and engaged["reactions"] == planned_reactions() else None

    figures = await eventually(dashboard, timeout=45, interval=0.5)
    assert (figures["enrolled"], figures["active"], figures["participation"]) == (20, 12, 0.6)
    assert figures["reach"]["total"] > 0
    top_fifth = figures["advocate_concentration"]["tops"][2]
    assert top_fifth["share"] > 0.5, top_fifth  # the top 20% earned most of the engagement

    again = await seed(platform)
    assert [item["id"] for item in again] == [item["id"] for item in items]
    assert {a: await platform.accounts(a) for a in ADVOCATES} == accounts
    assert await seed_activity(platform, ADMIN, ADVOCATES, item_ids) == 0
    assert len(await platform_posts(platform)) == posts
    # The webhooks sent again were recorded once: the figures stand.
    assert (await platform_dashboard(platform))["engagement"] == figures["engagement"]
    live = await platform.http.get(
        f"{running.endpoints.content}/v1/items",
        params={"state": "live"},
        headers=platform.auth("carol", "curator"),
    )
    assert len(live.json()["items"]) == len(ITEMS)


async def platform_posts(platform: Platform) -> list[dict[str, Any]]:
    found = []
    for advocate in ADVOCATES:
        found += await platform.posts_at_platform(advocate)
    return found


async def platform_dashboard(platform: Platform) -> dict[str, Any]:
    response = await platform.http.get(
        f"{platform.endpoints.insights}/v1/insights/programme",
        params=around_now(),
        headers=platform.auth("ada", "admin"),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def planned_clicks(item_ids: list[str]) -> int:
    """Every planned click lands once per network shared to (a confirmed
    Facebook intent carries a tracked link too)."""
    return sum(p.clicks * len(p.networks) for p in plan(ADVOCATES, len(item_ids)))


def planned_reactions() -> int:
    """Every planned reaction arrives once per network, by webhook."""
    return sum(p.reactions * len(p.networks) for p in plan(ADVOCATES, len(ITEMS)))


@pytest.fixture(scope="module")
def hub_database() -> str:
    return unique("journey_hub").replace("-", "_")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def hub(
    running: Running, mongo_url: str, oidc_issuer: str, hub_database: str
) -> AsyncIterator[str]:
    """The hub as its own process, in front of the journey's services."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = hub_database
    e = running.endpoints
    env = {
        **os.environ,
        OTLP_ENDPOINT: running.otlp_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "CHORUS_HTTP_PORT": str(port),
        "CHORUS_PUBLIC_BASE_URL": url,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
        "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_OIDC_ISSUER": oidc_issuer,
        "CHORUS_CONTENT_URL": e.content,
        "CHORUS_DISTRIBUTION_URL": e.distribution,
        "CHORUS_ENGAGEMENT_URL": e.engagement,
        "CHORUS_GAMIFICATION_URL": e.gamification,
        "CHORUS_INSIGHTS_URL": e.insights,
        "CHORUS_PLATFORM_ORIGINS": e.simulator,
    }
    executable = str(Path(sys.executable).with_name("chorus-hub"))
    process = await start_service(executable, env, port, timeout=60)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
        await drop_database(mongo_url, database)


async def test_an_advocate_signs_in_joins_and_shares_in_the_browser(
    running: Running, hub: str, chromium: str
) -> None:
    """At the provider's login form, then the hub: the policy, LinkedIn
    connected at the platform's consent page, the feed, a commentary edited
    with its live count, the post at the platform, a click on its tracked
    link, the points and the first badge, a work moment suggested for review;
    every page free of serious accessibility violations."""
    advocate = "advocate-07"  # in the local provider's realm, tenant "acme"
    acme = Platform(running.platform.http, running.endpoints, "acme")
    await acme.set_program("ada", PROGRAM)
    item = await acme.approved_item("carol", "alice", ITEMS[0], key=unique("hub-item"))
    async with browser(chromium) as chrome:
        context = await chrome.new_context(bypass_csp=True)  # axe is injected
        page = await context.new_page()
        async with screenshot_on_failure(page, "hub-advocate"):
            await sign_in(page, hub, advocate)
            # Not enrolled yet: the feed sends the advocate to the programme.
            await page.wait_for_url(f"{hub}/join")
            assert await serious_violations(page) == []
            await shown(page, "join")
            csp = (await page.request.get(f"{hub}/join")).headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            await page.get_by_label("I have read policy version").check()
            await page.get_by_role("button", name="Join the programme").click()
            await page.wait_for_url(f"{hub}/feed")
            await expect(page.get_by_role("status").first).to_contain_text("Welcome")
            await page.get_by_role("link", name="Accounts").click()
            assert await serious_violations(page) == []
            await page.get_by_role("button", name="Connect LinkedIn").click()
            await page.fill("#member", acme.member_id(advocate))  # at the platform
            await page.get_by_role("button", name="Allow").click()
            await page.wait_for_url(f"{hub}/accounts")
            await expect(page.locator("tbody")).to_contain_text("Working")
            known = f"{running.endpoints.distribution}/v1/content/{item['id']}"

            async def distribution_knows_the_item() -> bool:
                response = await acme.http.get(known, headers=acme.auth(advocate, "advocate"))
                return response.status_code == 200

            await eventually(distribution_knows_the_item, timeout=45, interval=0.3)
            await page.goto(f"{hub}/feed")
            assert await serious_violations(page) == []
            words = page.get_by_label("Your words for LinkedIn").first
            count = page.locator(f"#count-{item['id']}-linkedin")
            before = await count.inner_text()
            await words.fill("Proud of this, in my own words")
            assert await count.inner_text() != before  # counted as the advocate types
            await shown(page, "feed")
            await page.get_by_role("button", name="Share on LinkedIn").first.click()
            await page.wait_for_url(f"{hub}/shares/**")
            assert await serious_violations(page) == []

            async def posted() -> bool:
                await page.reload()
                return "Posted" in await page.locator("tbody").inner_text()

            await eventually(posted, timeout=30, interval=0.5)
            posts = await acme.posts_at_platform(advocate)
            assert any("Proud of this, in my own words" in p["text"] for p in posts), posts
            tracked = re.search(r"https?://\S+/r/\S+", posts[-1]["text"])
            assert tracked is not None, posts[-1]["text"]
            assert (await acme.http.get(tracked[0], headers=BROWSER)).status_code == 302

            async def scored() -> bool:
                await page.goto(f"{hub}/standing")
                badges = await page.locator("ul.badges").all_inner_texts()
                return int(await page.locator("#points").inner_text()) > 0 and bool(badges)

            await eventually(scored, timeout=30, interval=0.5)
            await expect(page.locator("ul.badges")).to_contain_text("first-share")
            await expect(page.locator("#streak")).to_have_text("1")  # shared this week
            assert await serious_violations(page) == []
            await shown(page, "points")
            # Their shares, each with what it earned: the click counted above.
            await page.get_by_role("link", name="Shares", exact=True).click()
            mine = page.locator("ul.shares > li").first
            await expect(mine.get_by_role("heading")).to_have_text(item["title"])
            await expect(mine).to_contain_text("LinkedIn: Posted")
            await expect(mine.locator(".counts div").first).to_have_text(
                re.compile(r"^Clicks\s*1$")
            )
            await shown(page, "shares")
            assert await serious_violations(page) == []
            # An address that leads nowhere gets the hub's own error page.
            missing = await page.goto(f"{hub}/shares/no-such-share")
            assert missing is not None and missing.status == 404
            assert await serious_violations(page) == []
            # Facebook has no posting API: its dialog, then the advocate confirms.
            await page.goto(f"{hub}/feed")
            await page.get_by_role("button", name="Share on Facebook").first.click()
            await page.wait_for_url(f"{hub}/shares/**")
            await expect(page.locator("tbody")).to_contain_text("Waiting for you to post")
            dialog = await page.get_by_role("link", name="Open the Facebook dialog").get_attribute(
                "href"
            )
            assert dialog is not None and "facebook.com" in dialog, dialog
            await page.get_by_role("button", name="I have posted it").click()
            await expect(page.locator("tbody")).to_contain_text("Posted")
            # In Italian, chosen in the hub, and on a 375 px phone without sideways scrolling.
            await page.goto(f"{hub}/standing")
            await page.get_by_label("Language").select_option("it")
            await page.get_by_role("button", name="Change").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("I tuoi punti")
            await page.set_viewport_size({"width": 375, "height": 800})
            for path in ("/feed", "/shares", "/standing", "/accounts", "/rewards"):
                await page.goto(f"{hub}{path}")
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, (path, width)
            await page.set_viewport_size({"width": 1280, "height": 720})
            await page.get_by_label("Lingua").select_option("en")
            await page.get_by_role("button", name="Cambia").click()
            # A work moment of their own, suggested for review.
            await page.get_by_role("link", name="Suggest").click()
            assert await serious_violations(page) == []
            await page.get_by_label("Title").fill("Our team at the plant opening")
            await page.get_by_label("Link", exact=True).fill("https://acme.example/news/plant")
            await page.get_by_label("LinkedIn").fill("What a day with the team")
            await page.get_by_role("button", name="Save").click()
            await expect(page.locator("#state")).to_have_text("To review")
            await expect(page.locator(".facts")).to_contain_text("suggested by an advocate")
            await page.get_by_role("button", name="Sign out").click()
            await page.wait_for_url(f"{hub}/")
            await expect(page.get_by_role("link", name="Sign in")).to_be_visible()


async def test_a_curator_writes_an_approver_approves_and_a_retraction_withdraws_the_share(
    running: Running, hub: str, chromium: str
) -> None:
    """In the browser: the curator's item breaks a compliance rule and the
    violation shows beside its field; fixed and submitted, the approver finds
    it in the review queue and approves it; an advocate shares it; the
    curator retracts it with a reason and the advocate's share page shows it
    withdrawn."""
    acme = Platform(running.platform.http, running.endpoints, "acme")
    advocate = "advocate-08"
    program = await acme.set_program("ada", PROGRAM)  # bans "guaranteed returns"
    await acme.enroll(advocate, int(program["policy_version"]), ["sales"])
    await acme.connect(advocate, "linkedin")
    async with browser(chromium) as chrome:
        pages = {}
        for person in ("carol", "alice", advocate):
            pages[person] = await (await chrome.new_context(bypass_csp=True)).new_page()
        carol, alice, mine = pages["carol"], pages["alice"], pages[advocate]
        async with screenshot_on_failure(carol, "hub-curator"):
            await sign_in(carol, hub, "carol")
            await carol.get_by_role("link", name="Items").click()
            await carol.get_by_role("link", name="New item").click()
            assert await serious_violations(carol) == []
            await carol.get_by_label("Title").fill("The hub is here")
            await carol.get_by_label("Link", exact=True).fill("https://acme.example/news/hub")
            await carol.get_by_label("LinkedIn").fill("Guaranteed returns for everyone")
            await carol.get_by_role("button", name="Save").click()
            await carol.wait_for_url(f"{hub}/items/*")
            item_id = carol.url.rsplit("/", 1)[1]
            await carol.get_by_role("button", name="Submit for review").click()
            await expect(carol.get_by_role("alert")).to_contain_text("banned_term")
            assert await serious_violations(carol) == []
            await carol.get_by_role("link", name="Edit the item").click()
            await carol.get_by_label("LinkedIn").fill("A new way to share our news")
            await carol.get_by_role("button", name="Save").click()
            await carol.get_by_role("button", name="Submit for review").click()
            await expect(carol.locator("#state")).to_have_text("To review")
        async with screenshot_on_failure(alice, "hub-approver"):
            await sign_in(alice, hub, "alice")
            await alice.goto(f"{hub}/items?state=in_review")
            assert await serious_violations(alice) == []
            await alice.get_by_role("link", name="The hub is here").click()
            await alice.get_by_role("button", name="Approve").click()
            await expect(alice.locator("#state")).to_have_text("Live")
        share = await share_once_known(acme, advocate, item_id, ["linkedin"])
        assert (await network_status(acme, advocate, share["id"], "linkedin"))["status"] == "posted"
        async with screenshot_on_failure(carol, "hub-retraction"):
            await carol.reload()  # live now
            await carol.get_by_label("Why it is retracted").fill("Superseded by the launch post")
            await carol.get_by_role("button", name="Retract").click()
            await expect(carol.locator("#state")).to_have_text("Retracted")
        async with screenshot_on_failure(mine, "hub-withdrawn"):
            await sign_in(mine, hub, advocate)

            async def withdrawn() -> bool:
                await mine.goto(f"{hub}/shares/{share['id']}")
                return "Withdrawn" in await mine.locator("tbody").inner_text()

            await eventually(withdrawn, timeout=30, interval=0.5)
            assert await serious_violations(mine) == []
            # They leave (without erasure): asked to confirm, then out of the programme.
            await mine.goto(f"{hub}/leave")
            await mine.get_by_label("Leave: stop receiving content").check()
            await mine.get_by_role("button", name="Confirm").click()
            await expect(mine.get_by_role("status").first).to_contain_text("You have left")
            await expect(mine.get_by_role("button", name="Join the programme")).to_be_visible()
    enrollment = await acme.http.get(
        f"{running.endpoints.content}/v1/enrollment", headers=acme.auth(advocate, "advocate")
    )
    assert enrollment.json()["status"] != "enrolled", enrollment.text


async def session_secret(context: BrowserContext) -> str:
    """The hub's session id, as the browser holds it."""
    cookies = await context.cookies()
    return next(c["value"] for c in cookies if c["name"] == SESSION_COOKIE)


async def focused(page: PlaywrightPage) -> str:
    """What the keyboard's focus is on: its label, or its text."""
    return str(
        await page.evaluate(
            "() => { const e = document.activeElement;"
            " return ((e.labels && e.labels[0]) ? e.labels[0].innerText : e.innerText)"
            " || e.getAttribute('aria-label') || ''; }"
        )
    ).strip()


async def tab_to(page: PlaywrightPage, name: str, most: int = 40) -> None:
    """Tab forward until the focus is on `name`; fail if the keyboard cannot reach it."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await focused(page) == name:
            return
    pytest.fail(f"{name!r} cannot be reached with the Tab key")


def descends_from(span: CollectedSpan, ancestor: CollectedSpan, spans: list[CollectedSpan]) -> bool:
    by_id = {s.span_id: s for s in spans}
    parent = by_id.get(span.parent_id)
    while parent is not None:
        if parent.span_id == ancestor.span_id:
            return True
        parent = by_id.get(parent.parent_id)
    return False


async def test_an_advocate_reconnects_stays_signed_in_and_erases_themselves_by_keyboard(
    running: Running, hub: str, hub_database: str, mongo_url: str, chromium: str
) -> None:
    """An account the platform revoked: the feed's banner, a reconnection at
    the consent page. A lapsed access token renewed at the provider without a
    sign-in; an expired session refused; the page's trace reaching the API it
    calls. Then, by keyboard alone, leave with erasure: signed out, and
    nothing of theirs left at the hub or at distribution."""
    acme = Platform(running.platform.http, running.endpoints, "acme")
    advocate = "advocate-10"
    program = await acme.set_program("ada", PROGRAM)
    await acme.enroll(advocate, int(program["policy_version"]), ["sales"])
    await acme.connect(advocate, "linkedin")
    simulator = running.endpoints.simulator
    revoked = await acme.http.post(f"{simulator}/_sim/members/{acme.member_id(advocate)}/revoke")
    assert revoked.json()["revoked"] >= 1
    item = await acme.approved_item("carol", "alice", ITEMS[2], key=unique("hub-reconnect"))
    await share_once_known(acme, advocate, item["id"], ["linkedin"])

    async def healths() -> list[str]:
        return [account["health"] for account in await acme.accounts(advocate)]

    async def expired() -> bool:
        return await healths() == ["expired"]  # the post failed: the platform refused

    await eventually(expired, timeout=30, interval=0.3)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    store = SessionStore(mongo[hub_database], TokenCipher.from_setting(DEV_TOKEN_KEYS), 1800, 43200)
    try:
        async with browser(chromium) as chrome:
            context = await chrome.new_context(bypass_csp=True)
            page = await context.new_page()
            async with screenshot_on_failure(page, "hub-reconnect"):
                await sign_in(page, hub, advocate)
                await page.wait_for_url(f"{hub}/feed")
                await page.get_by_role("link", name="An account needs you").click()
                await page.get_by_role("button", name="Reconnect LinkedIn").click()
                await page.fill("#member", acme.member_id(advocate))  # at the platform
                await page.get_by_role("button", name="Allow").click()
                await page.wait_for_url(f"{hub}/accounts")
                await expect(page.locator("tbody")).to_contain_text("Working")
                assert await healths() == ["active"]

                # A lapsed access token is renewed at the provider, unseen.
                secret = await session_secret(context)
                session = await store.find(secret)
                assert session is not None
                lapsed = replace(session.tokens, access_expires_at=0)
                await store.save(secret, replace(session, tokens=lapsed))
                await page.goto(f"{hub}/standing")
                await expect(page.get_by_role("heading", level=1)).to_have_text("Your points")
                renewed = await store.find(secret)
                assert renewed is not None
                assert renewed.tokens.access_token != session.tokens.access_token
                assert renewed.tokens.access_expires_at > time.time()
                stored = await mongo[hub_database]["sessions"].find_one(
                    {"identity.subject": advocate}
                )
                assert renewed.tokens.refresh_token not in str(stored)  # sealed at rest

                # An expired session opens nothing: a new one begins (at once,
                # while the provider's own session lasts).
                await store.save(secret, replace(renewed, expires_at=time.time() - 1))
                await page.goto(f"{hub}/standing")
                await page.wait_for_url(f"{hub}/standing")
                assert await session_secret(context) != secret
                assert await store.find(secret) is None

                # The page's span is the parent of the API calls it makes.
                trace_id = os.urandom(16).hex()
                traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"
                await context.set_extra_http_headers({"traceparent": traceparent})
                await page.goto(f"{hub}/standing")
                await context.set_extra_http_headers({})

                async def traced() -> bool:
                    spans = running.receiver.of_trace(trace_id)
                    pages = [s for s in spans if s.service == "chorus-hub" and s.kind == 2]
                    calls = [s for s in spans if s.service == "chorus-gamification" and s.kind == 2]
                    return (
                        len(pages) == 1
                        and len(calls) >= 2
                        and all(descends_from(call, pages[0], spans) for call in calls)
                    )

                await eventually(traced, timeout=15, interval=0.3)

                # Every page an advocate reaches, and the failed sign-in's.
                advocate_pages = [
                    "/feed",
                    "/shares",
                    "/standing?period=month",
                    "/standing?period=all&team=true",
                    "/rewards",
                    "/accounts",
                    "/join",
                    "/leave",
                    "/items/new",
                    "/auth/callback?error=access_denied",
                ]
                assert await violations_on(page, hub, advocate_pages) == {}
                # A form whose CSRF token is not the session's is refused, on a page of its own.
                await page.goto(f"{hub}/standing")
                await page.evaluate(
                    "document.querySelectorAll('input[name=csrf]')"
                    ".forEach(field => { field.value = 'forged'; })"
                )
                async with page.expect_response(f"{hub}/language") as answered:
                    await page.get_by_role("button", name="Change").click()
                assert (await answered.value).status == 403
                await expect(page.locator("main")).to_contain_text("Reload the page and try again")
                assert await serious_violations(page) == []
                # Leave with erasure, by keyboard alone.
                await page.goto(f"{hub}/leave")
                await page.keyboard.press("Tab")
                assert await focused(page) == "Skip to the content"
                await page.keyboard.press("Enter")
                await tab_to(
                    page,
                    "Leave: stop receiving content; my past figures stay, anonymised in rankings.",
                )
                await page.keyboard.press("ArrowDown")  # the next choice of the group
                assert await page.get_by_label("Leave and erase").is_checked()
                await tab_to(page, "Confirm")
                await page.keyboard.press("Enter")
                await page.wait_for_url(f"{hub}/?erased=1")
                await expect(page.get_by_role("status")).to_contain_text(
                    "erasure has been requested"
                )
                assert await serious_violations(page) == []
        sessions = mongo[hub_database]["sessions"]
        assert await sessions.count_documents({"identity.subject": advocate}) == 0

        async def accounts_erased() -> bool:
            return await acme.accounts(advocate) == []

        await eventually(accounts_erased, timeout=30, interval=0.3)
    finally:
        await mongo.close()


# What the admin's new reward costs: no more than a share earns.
REWARD_COST = 5


async def test_the_admin_reads_the_dashboard_downloads_its_csv_and_changes_a_rule(
    running: Running, hub: str, chromium: str
) -> None:
    """The programme's figures for the week as the hub draws them (after a
    share of this test's own), the Lorenz curve, a CSV download, a rule of
    the programme changed in its settings, points per network and a
    campaign, and a reward added that the advocate redeems."""
    acme = Platform(running.platform.http, running.endpoints, "acme")
    rules_url = f"{running.endpoints.gamification}/v1/rules"
    advocate, team = "advocate-09", unique("team")  # a team of one: too small to show
    program = await acme.set_program("ada", PROGRAM)
    await acme.enroll(advocate, int(program["policy_version"]), ["sales", team])
    await acme.connect(advocate, "linkedin")
    item = await acme.approved_item("carol", "alice", ITEMS[1], key=unique("hub-dashboard"))
    await share_once_known(acme, advocate, item["id"], ["linkedin"])

    async def scored() -> bool:
        return int((await acme.standing(advocate))["balance"]) >= REWARD_COST

    await eventually(scored, timeout=30, interval=0.5)
    async with browser(chromium) as chrome:
        context = await chrome.new_context(bypass_csp=True)
        page = await context.new_page()
        async with screenshot_on_failure(page, "hub-dashboard"):
            await sign_in(page, hub, "ada")

            async def counted() -> bool:
                await page.goto(f"{hub}/dashboard?period=week")
                return int(await page.locator("#shares").inner_text()) >= 1

            await eventually(counted, timeout=30, interval=0.5)
            assert await serious_violations(page) == []
            assert await page.locator("svg polyline.curve").count() == 1
            await expect(page.locator("#participation")).to_contain_text("%")
            await shown(page, "dashboard")
            # A range of days and a network, then a group too small to show.
            today = datetime.now(UTC).date()
            await page.get_by_label("Period").select_option("range")
            await page.get_by_label("From", exact=True).fill(
                (today - timedelta(days=6)).isoformat()
            )
            await page.get_by_label("To", exact=True).fill(today.isoformat())
            await page.get_by_label("Network").select_option("linkedin")
            await page.get_by_role("button", name="Show").click()
            assert int(await page.locator("#shares").inner_text()) >= 1
            assert "network=linkedin" in page.url and "period=range" in page.url
            csv_link = page.get_by_role("link", name="every advocate")
            assert "network=linkedin" in (await csv_link.get_attribute("href") or "")
            await page.get_by_label("Network").select_option("facebook")
            await page.get_by_label("Group").fill(team)
            await page.get_by_role("button", name="Show").click()
            await expect(page.locator("main")).to_contain_text("no one can be singled out")
            assert await serious_violations(page) == []
            await page.get_by_label("From", exact=True).fill(today.isoformat())
            await page.get_by_label("To", exact=True).fill((today - timedelta(days=3)).isoformat())
            await page.get_by_role("button", name="Show").click()
            await expect(page.get_by_role("alert")).to_be_visible()  # insights refuses it
            await page.goto(f"{hub}/dashboard?period=week")
            async with page.expect_download() as downloading:
                await page.get_by_role("link", name="every advocate").click()
            download = await downloading.value
            saved = await download.path()
            lines = (await asyncio.to_thread(Path(saved).read_text)).splitlines()
            assert lines[0].startswith("advocate,shares,clicks")
            assert any(line.startswith(f"{advocate},") for line in lines[1:]), lines
            await page.set_viewport_size({"width": 375, "height": 800})
            for path in (
                "/dashboard",
                "/items",
                "/settings/programme",
                "/settings/rules",
                "/settings/media",
                "/rewards",
            ):
                await page.goto(f"{hub}{path}")
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, (path, width)  # no sideways scrolling on a phone
            await page.set_viewport_size({"width": 1280, "height": 720})
            await page.goto(f"{hub}/dashboard")
            staff_pages = [
                "/dashboard?period=quarter",
                "/dashboard?period=range",
                "/items?state=live",
                "/items?state=retracted",
                "/items/new",
                "/settings/programme",
                "/settings/rules",
                "/settings/media",
                "/rewards",
            ]
            assert await violations_on(page, hub, staff_pages) == {}
            # A rule of the programme, changed in its settings, holds for the API.
            await page.get_by_role("link", name="Settings").click()
            assert await serious_violations(page) == []
            await page.get_by_label("Banned terms").fill("guaranteed returns, miracle cure")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("status").first).to_contain_text("Saved")
            # The points rules: a share is worth 12 from now on.
            await page.get_by_role("link", name="Points and badges").click()
            assert await serious_violations(page) == []
            share_points = page.get_by_role("group", name="A share", exact=True)
            await share_points.get_by_label("Any network").fill("12")
            await share_points.get_by_label("LinkedIn").fill("15")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("status").first).to_contain_text("the rules are now")
            # A campaign: refused without a target, then added with one.
            await page.get_by_label("Campaign", exact=True).fill("Plant week")
            await page.get_by_label("Factor").fill("2")
            await page.get_by_label("Starts").fill("2026-01-05T00:00")
            await page.get_by_label("Ends").fill("2099-01-01T00:00")
            await page.get_by_role("button", name="Add a campaign").click()
            await expect(page.locator("main")).to_contain_text(
                "name at least one content id or tag"
            )
            assert await serious_violations(page) == []
            await page.get_by_label("Tags").fill("news")
            await page.get_by_role("button", name="Add a campaign").click()
            await expect(page.locator("ul.campaigns")).to_contain_text("Plant week")
            rules = (await acme.http.get(rules_url, headers=acme.auth("ada", "admin"))).json()
            assert rules["points"]["share"] == {"default": 12, "linkedin": 15}
            campaigns = [(c["name"], c["factor"], c["tags"]) for c in rules["multipliers"]]
            assert campaigns == [("Plant week", 2, ["news"])]
            await page.get_by_role("button", name="Remove Plant week").click()
            await expect(page.locator("main")).to_contain_text("No campaign yet.")
            # Media rates: what earned media value is reckoned in.
            await page.get_by_role("link", name="Media rates").click()
            assert await serious_violations(page) == []
            await page.get_by_label("Currency").fill("eur")
            linkedin = page.get_by_role("group", name="LinkedIn")
            await linkedin.get_by_label("Per click").fill("2.5")
            await linkedin.get_by_label("Per comment").fill("-1")
            await page.get_by_role("button", name="Save").click()
            await expect(page.locator("#e-linkedin_per_comment")).to_be_visible()  # refused
            await linkedin.get_by_label("Per comment").fill("4")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("status").first).to_contain_text("these rates")
            rates_url = f"{running.endpoints.insights}/v1/insights/media-rates"
            rates = (await acme.http.get(rates_url, headers=acme.auth("ada", "admin"))).json()
            assert rates["currency"] == "EUR"
            assert (
                rates["networks"]["linkedin"]["cpc"],
                rates["networks"]["linkedin"]["per_comment"],
            ) == (2.5, 4)
            # A reward in the catalogue, which an advocate redeems from their points.
            await page.get_by_role("link", name="Rewards").click()
            await page.get_by_label("Reward").fill("Chorus mug")
            await page.get_by_label("Cost in points").fill(str(REWARD_COST))
            await page.get_by_label("In stock").fill("3")
            await page.get_by_role("button", name="Add a reward").click()
            await expect(page.get_by_role("status").first).to_contain_text("Chorus mug")
            assert await serious_violations(page) == []
        redeemer = await (await chrome.new_context(bypass_csp=True)).new_page()
        async with screenshot_on_failure(redeemer, "hub-rewards"):
            await sign_in(redeemer, hub, advocate)  # scored for the share above
            await redeemer.goto(f"{hub}/rewards")
            balance = await redeemer.locator("p.status").inner_text()
            await redeemer.get_by_role("button", name="Redeem Chorus mug").click()
            await expect(redeemer.get_by_role("status").first).to_contain_text("Redeemed")
            assert await redeemer.locator("p.status").inner_text() != balance
            await expect(redeemer.locator("main")).to_contain_text(f"Chorus mug: {REWARD_COST}")
            assert await serious_violations(redeemer) == []
    program = await acme.http.get(
        f"{running.endpoints.content}/v1/program", headers=acme.auth("ada", "admin")
    )
    assert program.json()["banned_terms"] == ["guaranteed returns", "miracle cure"]
    rules = await acme.http.get(rules_url, headers=acme.auth("ada", "admin"))
    assert rules.json()["multipliers"] == []


# The bound on a control event's effect while bulk events queue (issue #16).
CONTROL_BOUND_SECONDS = 2.0
BACKLOG_RECORDS = 100_000


async def produce_backlog(kafka: str, prefix: str, records: int) -> None:
    """Shares and clicks of another tenant, as fast as the broker takes them:
    a backlog for content, engagement and the scoring engine."""
    encoder = Encoder("/test/backlog")
    producer = EventProducer(
        kafka, source="/test", metrics=Metrics(), client_id="backlog", topic_prefix=prefix
    )
    await producer.start()
    try:
        for start in range(0, records, 10_000):
            batch = []
            for n in range(start, min(records, start + 10_000)):
                advocate = f"bulk-{n % 5000}"
                if n % 2:
                    event: Any = EngagementObserved(
                        tenant="bulk", advocate=advocate, share_id=f"s{n % 20_000}", kind=1, delta=1
                    )
                    topic = ENGAGEMENT_OBSERVED
                else:
                    event = SharePerformed(
                        tenant="bulk",
                        advocate=advocate,
                        share_id=f"s{n}",
                        network=1,
                        mode=SHARE_MODE_API,
                    )
                    event.performed_at.GetCurrentTime()
                    topic = SHARE_PERFORMED
                batch.append(encoder.encode(topic, f"bulk:{advocate}", event))
            await producer.send_all(batch)
    finally:
        await producer.stop()


async def behind(kafka: str, prefix: str, group: str, topic: str) -> int:
    """How many records of `topic` the group has not committed yet."""
    ends = await end_offsets(kafka, prefix + topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        partitions = [TopicPartition(prefix + topic, p) for p in ends]
        done = await admin.list_consumer_group_offsets(prefix + group, partitions=partitions)
    finally:
        await admin.close()
    committed = {tp.partition: max(0, meta.offset) for tp, meta in done.items()}
    return sum(end - committed.get(partition, 0) for partition, end in ends.items())


async def seconds_until(
    check: Callable[[], Awaitable[bool]], bound: float, started: float
) -> float:
    """Seconds from `started` until `check` holds, polled every 50 ms; fails
    past twice the bound."""
    while not await check():
        if time.monotonic() - started > 2 * bound:
            pytest.fail(f"not in effect after {2 * bound:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_retraction_and_an_opt_out_take_effect_within_2_s_behind_a_bulk_backlog(
    running: Running,
) -> None:
    platform, advocate, leaver = running.platform, "erin", "fay"
    item = await platform.approved_item("carol", "alice", ITEMS[1], key=unique("item"))
    await enrolled_with_linkedin(platform, advocate, item["id"])
    await enrolled_with_linkedin(platform, leaver, item["id"])
    share = await share_once_known(platform, advocate, item["id"], ["linkedin"])
    linkedin = await network_status(platform, advocate, share["id"], "linkedin")
    assert linkedin["status"] == "posted"
    tracked = linkedin["tracked_url"]
    assert (await platform.http.get(tracked, headers=BROWSER)).status_code == 302
    await share_once_known(platform, leaver, item["id"], ["linkedin"])

    async def leaver_on_the_board() -> bool:
        board = await platform.leaderboard(advocate)
        return any(entry["advocate"] == leaver for entry in board["entries"])

    async def leaver_in_the_top_advocates() -> bool:
        top = (await platform_dashboard(platform))["top_advocates"]
        return leaver in [row["key"] for row in top]

    await eventually(leaver_on_the_board, timeout=30, interval=0.3)
    await eventually(leaver_in_the_top_advocates, timeout=30, interval=0.3)

    await produce_backlog(running.kafka, running.prefix, BACKLOG_RECORDS)

    # The retraction: link withdrawn (engagement), post deleted (distribution),
    # out of the feed (content) — each timed from the curator's request.
    started = time.monotonic()
    await platform.retract("carol", item["id"], "superseded")

    async def link_withdrawn() -> bool:
        return (await platform.http.get(tracked, headers=BROWSER)).status_code == 410

    async def post_deleted() -> bool:
        posts = await platform.posts_at_platform(advocate)
        return bool(posts) and all(post["deleted"] for post in posts)

    async def out_of_the_feed() -> bool:
        return item["id"] not in [entry["item"]["id"] for entry in await platform.feed(advocate)]

    retraction = await asyncio.gather(
        *(
            seconds_until(c, CONTROL_BOUND_SECONDS, started)
            for c in (link_withdrawn, post_deleted, out_of_the_feed)
        )
    )

    # The opt-out: sharing refused (distribution), off the leaderboard
    # (gamification), no longer named among the top advocates (insights).
    started = time.monotonic()
    await platform.opt_out(leaver)

    async def sharing_refused() -> bool:
        response = await platform.http.post(
            f"{platform.endpoints.distribution}/v1/shares",
            json={"content_id": "anything", "targets": [{"network": "linkedin"}]},
            headers={**platform.auth(leaver, "advocate"), "Idempotency-Key": unique("k")},
        )
        return response.status_code == 409 and response.json().get("reason") == "not_enrolled"

    async def off_the_board() -> bool:
        return not await leaver_on_the_board()

    async def not_named_in_insights() -> bool:
        return not await leaver_in_the_top_advocates()

    opt_out = await asyncio.gather(
        *(
            seconds_until(c, CONTROL_BOUND_SECONDS, started)
            for c in (sharing_refused, off_the_board, not_named_in_insights)
        )
    )

    # All of it while the bulk consumers were still working the backlog off.
    backlog_left = {
        group: await behind(running.kafka, running.prefix, group, topic)
        for group, topic in (
            ("engagement", ENGAGEMENT_OBSERVED.name),
            ("content", SHARE_PERFORMED.name),
            ("insights", SHARE_PERFORMED.name),
        )
    }
    rounded = [[round(s, 2) for s in found] for found in (retraction, opt_out)]
    print(f"retraction {rounded[0]} s, opt-out {rounded[1]} s, backlog left {backlog_left}")
    assert max(retraction) <= CONTROL_BOUND_SECONDS, retraction
    assert max(opt_out) <= CONTROL_BOUND_SECONDS, opt_out
    assert backlog_left["engagement"] > 0, "the backlog was gone before the control events"
