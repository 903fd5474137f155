"""Strings with NUL bytes or lone surrogates, in bodies, paths and queries, on
every service against the real MongoDB: stored and returned faithfully, or
refused with 422 problem+json, never a 500."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chorus.content.main import ContentSettings
from chorus.content.main import build as build_content
from chorus.engagement.main import EngagementSettings
from chorus.engagement.main import build as build_engagement
from chorus.gamification.main import GamificationSettings
from chorus.gamification.main import build as build_gamification
from chorus.kit.runtime import ServiceRuntime
from chorus.kit.settings import ServiceSettings
from chorus_testing import bearer, drop_database, running, unique
from distribution_support import distribution_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

NUL = "plant\x00opens"
LONE = "plant\ud800opens"
TENANT = "textco"


def raw_json(value: Any) -> dict[str, Any]:
    """A JSON body exactly as a client may send it: json.dumps writes a lone
    surrogate as the escape "\\ud800", which JSON allows."""
    return {
        "content": json.dumps(value).encode(),
        "headers": {"content-type": "application/json"},
    }


async def send(
    http: httpx.AsyncClient, method: str, path: str, auth: dict[str, str], **kwargs: Any
) -> httpx.Response:
    """The request, which must not answer 5xx; errors must be problem+json."""
    extra = kwargs.pop("headers", {})
    response = await http.request(method, path, headers={**auth, **extra}, **kwargs)
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
    return response


@contextlib.asynccontextmanager
async def service(
    build: Any, settings: ServiceSettings, mongo_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    runtime: ServiceRuntime = build(settings)
    async with running(runtime):
        base = f"http://127.0.0.1:{runtime.bound_http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=15) as http:
            yield http
    await drop_database(mongo_url, settings.database_name)


def common(kafka_bootstrap: str, mongo_url: str, name: str) -> dict[str, Any]:
    return {
        "kafka_bootstrap": kafka_bootstrap,
        "mongo_url": mongo_url,
        "mongo_database": unique(f"test_text_{name}").replace("-", "_"),
        "http_port": 0,
        "grpc_port": 0,
    }


async def test_content(kafka_bootstrap: str, mongo_url: str) -> None:
    settings = ContentSettings(**common(kafka_bootstrap, mongo_url, "content"))
    async with service(build_content, settings, mongo_url) as http:
        curator = bearer(TENANT, "carol", "curator")
        item = {"title": NUL, "url": "https://acme.example/a", "summary": NUL, "tags": [NUL]}
        created = await send(http, "POST", "/v1/items", curator, json=item)
        assert created.status_code == 201
        stored = await send(http, "GET", f"/v1/items/{created.json()['id']}", curator)
        assert (stored.json()["title"], stored.json()["tags"]) == (NUL, [NUL])
        listed = await send(http, "GET", "/v1/items", curator, params={"tag": NUL})
        assert [i["id"] for i in listed.json()["items"]] == [created.json()["id"]]
        lone = {**item, "title": LONE}
        assert (await send(http, "POST", "/v1/items", curator, **raw_json(lone))).status_code == 422
        assert (await send(http, "GET", "/v1/items/%00", curator)).status_code == 404
        await send(http, "GET", "/v1/items", curator, params={"author": NUL, "state": NUL})
        await send(http, "POST", "/v1/advocates/%00/erasure", bearer(TENANT, "ada", "admin"))


async def test_engagement(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = EngagementSettings(
        **common(kafka_bootstrap, mongo_url, "engagement"),
        journal_dir=tmp_path,
        instance_id=unique("eng"),
    )
    async with service(build_engagement, settings, mongo_url) as http:
        admin = bearer(TENANT, "ada", "admin")
        for path in ("/v1/advocates/%00/engagement", "/v1/shares/a%00b/engagement"):
            assert (await send(http, "GET", path, admin)).json() == {}
        assert (await http.get("/r/%00")).status_code == 404  # the public "not found" page
        for extras in ({"a\x00b": "c"}, {"utm_term": LONE}):
            body = raw_json({"extras": extras})
            assert (await send(http, "PUT", "/v1/settings/utm", admin, **body)).status_code == 422
        await send(http, "POST", "/v1/webhooks/%00/engagement", {}, **raw_json({"kind": NUL}))


async def test_distribution(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    async with distribution_stack(kafka_bootstrap, mongo_url, simulator_url, tmp_path) as stack:
        advocate = bearer(TENANT, "ann", "advocate")
        share = {"content_id": NUL, "targets": [{"network": "linkedin", "commentary": NUL}]}
        refused = await send(stack.http, "POST", "/v1/shares", advocate, json=share)
        assert refused.status_code in (403, 404, 409, 422)
        lone = {**share, "content_id": LONE}
        body = raw_json(lone)
        assert (await send(stack.http, "POST", "/v1/shares", advocate, **body)).status_code == 422
        for path in ("/v1/content/%00", "/v1/shares/%00"):
            assert (await send(stack.http, "GET", path, advocate)).status_code == 404
        connect = raw_json({"redirect_uri": f"https://hub.example/{LONE}"})
        await send(stack.http, "POST", "/v1/accounts/linkedin/connect", advocate, **connect)
        await send(stack.http, "POST", "/v1/accounts/%00/connect", advocate, json={})


async def test_gamification(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = GamificationSettings(
        **common(kafka_bootstrap, mongo_url, "gamification"),
        role="api",
    )
    async with service(build_gamification, settings, mongo_url) as http:
        admin = bearer(TENANT, "ada", "admin")
        reward = {"name": NUL, "description": NUL, "cost": 10, "stock": 1}
        created = await send(http, "POST", "/v1/rewards", admin, json=reward)
        assert created.status_code == 201
        catalogue = await send(http, "GET", "/v1/rewards", admin)
        assert [r["name"] for r in catalogue.json()] == [NUL]
        lone = raw_json({**reward, "name": LONE})
        assert (await send(http, "POST", "/v1/rewards", admin, **lone)).status_code == 422
        await send(http, "GET", "/v1/advocates/%00/standing", admin)
        await send(http, "GET", "/v1/leaderboards/week", admin, params={"group": NUL})
        advocate = bearer(TENANT, "ann", "advocate")
        redeem = await send(
            http, "POST", "/v1/rewards/%00/redemptions", advocate, headers={"Idempotency-Key": "k"}
        )
        assert redeem.status_code == 404
