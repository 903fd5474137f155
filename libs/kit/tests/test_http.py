"""The HTTP shell every service shares: problem+json on every error path, never a
stack trace, health answering from the checks, metrics by route template."""

from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from chorus.kit.auth import Role, TokenVerifier, mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM, DEV_PUBLIC_KEY_PEM
from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.health import Health
from chorus.kit.http import Authenticated, build_http_app
from chorus.kit.metrics import Metrics


class Body(BaseModel):
    name: str
    count: int


def app_with(checks_ok: bool = True) -> tuple[TestClient, Metrics]:
    api = APIRouter()

    @api.post("/things/{thing_id}")
    async def create(thing_id: str, body: Body, principal: Authenticated) -> dict[str, str]:
        principal.require_role(Role.CURATOR)
        if thing_id == "taken":
            raise ProblemError(ErrorCode.CONFLICT, "thing exists")
        return {"tenant": principal.tenant}

    @api.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    metrics = Metrics()
    health = Health(metrics, cache_seconds=0)

    async def check() -> None:
        if not checks_ok:
            raise ConnectionError("broker down")

    health.add("kafka", check)
    app = build_http_app(
        title="t",
        description="d",
        metrics=metrics,
        health=health,
        routers=[api],
        verifier=TokenVerifier(
            issuer="chorus-dev", audience="chorus", public_key_pem=DEV_PUBLIC_KEY_PEM
        ),
    )
    return TestClient(app, raise_server_exceptions=False), metrics


def bearer(*roles: str) -> dict[str, str]:
    token = mint_token(
        private_key_pem=DEV_PRIVATE_KEY_PEM,
        tenant="acme",
        subject="bob",
        roles=roles,
        issuer="chorus-dev",
        audience="chorus",
    )
    return {"Authorization": f"Bearer {token}"}


def test_error_paths_answer_problem_json() -> None:
    client, _ = app_with()
    cases = [
        (client.post("/things/a", json={"name": "x", "count": 1}), 401, "unauthenticated"),
        (
            client.post("/things/a", json={"name": "x", "count": 1}, headers=bearer("advocate")),
            403,
            "forbidden",
        ),
        (
            client.post("/things/a", json={"name": "x"}, headers=bearer("curator")),
            422,
            "validation_failed",
        ),
        (
            client.post(
                "/things/a",
                content=b"{nope",
                headers={**bearer("curator"), "content-type": "application/json"},
            ),
            400,
            "invalid_request",
        ),
        (
            client.post("/things/taken", json={"name": "x", "count": 1}, headers=bearer("curator")),
            409,
            "conflict",
        ),
        (client.get("/nowhere"), 404, "not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code


def test_validation_lists_every_field() -> None:
    client, _ = app_with()
    response = client.post("/things/a", json={"count": "many"}, headers=bearer("curator"))
    fields = {v["field"] for v in response.json()["violations"]}
    assert fields == {"body.name", "body.count"}


def test_unexpected_errors_hide_internals() -> None:
    client, _ = app_with()
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal"
    assert "secret" not in response.text


def test_readiness_reflects_the_checks() -> None:
    client, _ = app_with(checks_ok=True)
    assert client.get("/readyz").json() == {"status": "ready", "checks": {"kafka": "ok"}}
    client, _ = app_with(checks_ok=False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "broker down" in response.json()["checks"]["kafka"]
    assert client.get("/livez").status_code == 200


def test_metrics_use_the_route_template_not_the_raw_path() -> None:
    client, _ = app_with()
    client.post("/things/abc", json={"name": "x", "count": 1}, headers=bearer("curator"))
    client.post("/things/def", json={"name": "x", "count": 1}, headers=bearer("curator"))
    text = client.get("/metrics").text
    assert (
        'chorus_http_requests_total{method="POST",route="/things/{thing_id}",status="2xx"} 2.0'
        in text
    )
    assert "/things/abc" not in text


def test_text_that_cannot_be_stored_is_refused_before_the_handler() -> None:
    client, _ = app_with()
    headers = {**bearer("curator"), "content-type": "application/json"}
    lone = client.post("/things/a", content=b'{"name": "a\\ud800b", "count": 1}', headers=headers)
    assert lone.status_code == 422, lone.text
    assert lone.headers["content-type"] == "application/problem+json"
    assert lone.json()["violations"][0]["field"] == "body.name"
    nul_key = client.post(
        "/things/a", content=b'{"name": "x", "count": 1, "a\\u0000b": 1}', headers=headers
    )
    assert nul_key.status_code == 422, nul_key.text


def test_control_characters_anywhere_are_refused_before_the_handler() -> None:
    client, _ = app_with()
    headers = {**bearer("curator"), "content-type": "application/json"}
    for body in (
        b'{"name": "a\\u0000b", "count": 1}',
        b'{"name": "a\\u001bb", "count": 1}',
        b'{"name": "a\\bb", "count": 1}',
        '{"name": "a\u0085b", "count": 1}'.encode(),
    ):
        response = client.post("/things/a", content=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["violations"] == [
            {"field": "body.name", "message": "contains a control character"}
        ]
    body = {"name": "x", "count": 1}
    for path, where in (
        ("/things/a%00b", "path"),
        ("/things/a%ffb", "path"),
        ("/metrics?x=%1b", "query"),
    ):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["violations"][0]["field"] == where
    assert client.get("/readyz?probe=%00").status_code == 422  # every method


def test_text_with_newlines_tabs_and_emoji_reaches_the_handler() -> None:
    client, _ = app_with()
    headers = {**bearer("curator"), "content-type": "application/json"}
    for body in (
        b'{"name": "line\\none\\tand\\r\\ntwo", "count": 1}',
        b'{"name": "\\ud83d\\ude00", "count": 1}',
        '{"name": "caf\u00e9 \u2014 \u65e5\u672c", "count": 1}'.encode(),
    ):
        response = client.post("/things/caf%C3%A9?note=a+b%20c", content=body, headers=headers)
        assert response.status_code == 200, response.text
