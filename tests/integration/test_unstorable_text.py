"""What is not text (control characters, lone surrogates, bytes that are not
UTF-8) in bodies, paths and queries, on every service against the real
MongoDB: refused with 422 problem+json naming where, never a 500; text with
newlines, tabs, emoji and markup is stored and returned faithfully."""

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
from chorus_testing import bearer, drop_database, in_process, running, unique
from distribution_support import distribution_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

NUL = "plant\x00opens"
ESC = "plant\x1b[31mopens"
LONE = "plant\ud800opens"
TEXT = "Plant opens \U0001f3ed\n\tline two <b>&amp;</b> caf\u00e9"
TENANT = "textco"


def raw_json(value: Any) -> dict[str, Any]:
    """A JSON body exactly as a client may send it: json.dumps writes a lone
    surrogate as the escape "\\ud800", which JSON allows."""
    return {
        "content": json.dumps(value).encode(),
        "headers": {"content-type": "application/json"},
    }


def refused_at(response: httpx.Response) -> list[str]:
    """The fields a 422 names."""
    assert response.status_code == 422, response.text
    return [v["field"] for v in response.json()["violations"]]


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


async def test_content(kafka_bootstrap: str, mongo_url: str) -> None:
    settings = ContentSettings(**in_process(kafka_bootstrap, mongo_url, "text_content"))
    async with service(build_content, settings, mongo_url) as http:
        curator = bearer(TENANT, "carol", "curator")
        item = {"title": TEXT, "url": "https://acme.example/a", "summary": TEXT, "tags": ["t"]}
        created = await send(http, "POST", "/v1/items", curator, json=item)
        assert created.status_code == 201
        stored = await send(http, "GET", f"/v1/items/{created.json()['id']}", curator)
        assert (stored.json()["title"], stored.json()["summary"]) == (TEXT, TEXT)
        for bad, field in ((NUL, "body.title"), (ESC, "body.title"), (LONE, "body.title")):
            response = await send(
                http, "POST", "/v1/items", curator, **raw_json({**item, "title": bad})
            )
            assert refused_at(response) == [field]
        tagged = await send(http, "POST", "/v1/items", curator, json={**item, "tags": [NUL]})
        assert refused_at(tagged) == ["body.tags.0"]
        assert refused_at(await send(http, "GET", "/v1/items/%00", curator)) == ["path"]
        assert refused_at(await send(http, "GET", "/v1/items/%C3%28", curator)) == ["path"]
        listed = await send(http, "GET", "/v1/items", curator, params={"author": NUL})
        assert refused_at(listed) == ["query"]
        admin = bearer(TENANT, "ada", "admin")
        erasure = await send(http, "POST", "/v1/advocates/%00/erasure", admin)
        assert refused_at(erasure) == ["path"]


async def test_engagement(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = EngagementSettings(
        **in_process(kafka_bootstrap, mongo_url, "text_engagement"),
        journal_dir=tmp_path,
        instance_id=unique("eng"),
    )
    async with service(build_engagement, settings, mongo_url) as http:
        admin = bearer(TENANT, "ada", "admin")
        for path in ("/v1/advocates/%00/engagement", "/v1/shares/a%1bb/engagement", "/r/%00"):
            assert refused_at(await send(http, "GET", path, admin)) == ["path"]
        for extras, field in (
            ({"a\x00b": "c"}, "body.extras"),
            ({"utm_term": LONE}, "body.extras.utm_term"),
        ):
            body = raw_json({"extras": extras})
            response = await send(http, "PUT", "/v1/settings/utm", admin, **body)
            assert refused_at(response) == [field]
        webhook = await send(
            http, "POST", "/v1/webhooks/acme/engagement", {}, **raw_json({"kind": NUL})
        )
        assert refused_at(webhook) == ["body.kind"]


async def test_distribution(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    async with distribution_stack(kafka_bootstrap, mongo_url, simulator_url, tmp_path) as stack:
        advocate = bearer(TENANT, "ann", "advocate")
        share = {"content_id": "c-1", "targets": [{"network": "linkedin", "commentary": ESC}]}
        refused = await send(stack.http, "POST", "/v1/shares", advocate, json=share)
        assert refused_at(refused) == ["body.targets.0.commentary"]
        body = raw_json({**share, "content_id": LONE})
        lone = await send(stack.http, "POST", "/v1/shares", advocate, **body)
        assert "body.content_id" in refused_at(lone)
        for path in ("/v1/content/%00", "/v1/shares/%00"):
            assert refused_at(await send(stack.http, "GET", path, advocate)) == ["path"]
        connect = raw_json({"redirect_uri": f"https://hub.example/{LONE}"})
        response = await send(
            stack.http, "POST", "/v1/accounts/linkedin/connect", advocate, **connect
        )
        assert refused_at(response) == ["body.redirect_uri"]
        unknown = await send(stack.http, "POST", "/v1/accounts/myspace/connect", advocate, json={})
        assert unknown.status_code == 422


async def test_gamification(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = GamificationSettings(
        **in_process(kafka_bootstrap, mongo_url, "text_gamification"),
        role="api",
    )
    async with service(build_gamification, settings, mongo_url) as http:
        admin = bearer(TENANT, "ada", "admin")
        reward = {"name": TEXT, "description": TEXT, "cost": 10, "stock": 1}
        created = await send(http, "POST", "/v1/rewards", admin, json=reward)
        assert created.status_code == 201
        catalogue = await send(http, "GET", "/v1/rewards", admin)
        assert [(r["name"], r["description"]) for r in catalogue.json()] == [(TEXT, TEXT)]
        for bad in (NUL, LONE):
            response = await send(
                http, "POST", "/v1/rewards", admin, **raw_json({**reward, "name": bad})
            )
            assert refused_at(response) == ["body.name"]
        assert refused_at(await send(http, "GET", "/v1/advocates/%00/standing", admin)) == ["path"]
        board = await send(http, "GET", "/v1/leaderboards/week", admin, params={"group": NUL})
        assert refused_at(board) == ["query"]
        unknown_kind = await send(http, "GET", "/v1/leaderboards/fortnight", admin)
        assert unknown_kind.status_code == 422
        advocate = bearer(TENANT, "ann", "advocate")
        redeem = await send(
            http, "POST", "/v1/rewards/nope/redemptions", advocate, headers={"Idempotency-Key": "k"}
        )
        assert redeem.status_code == 404
