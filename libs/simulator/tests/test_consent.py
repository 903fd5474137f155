"""The simulator's consent pages: a person allows the app and it gets a code
it can exchange, or cancels and it learns so, with its state either way."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from chorus.simulator.app import create_app

APP = "http://127.0.0.1:8020/accounts/linkedin/callback"


def consent(client: TestClient, decision: str) -> dict[str, list[str]]:
    page = client.get(
        "/oauth/v2/authorization",
        params={
            "response_type": "code",
            "redirect_uri": APP,
            "state": "s1",
            "scope": "w_member_social",
        },
    )
    assert page.status_code == 200 and "Allow" in page.text
    answer = client.post(
        "/_sim/consent",
        data={"network": "linkedin", "redirect_uri": APP, "state": "s1"}
        | {"scope": "w_member_social", "member": "acme-ann", "decision": decision},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(APP + "?")
    return parse_qs(urlsplit(location).query)


def test_allowing_gives_the_app_a_code_for_the_member() -> None:
    with TestClient(create_app()) as client:
        answer = consent(client, "allow")
        assert answer["state"] == ["s1"]
        token = client.post(
            "/oauth/v2/accessToken",
            data={"grant_type": "authorization_code", "code": answer["code"][0]}
            | {"redirect_uri": APP, "client_id": "c", "client_secret": "s"},
        )
        assert token.status_code == 200, token.text
        me = client.get(
            "/v2/userinfo", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert me.json()["sub"] == "acme-ann"


def test_cancelling_tells_the_app_and_gives_no_code() -> None:
    with TestClient(create_app()) as client:
        answer = consent(client, "cancel")
        assert answer == {"error": ["user_cancelled_authorize"], "state": ["s1"]}


def test_a_consent_page_without_a_redirect_uri_is_refused() -> None:
    with TestClient(create_app()) as client:
        assert client.get("/oauth/v2/authorization").status_code == 400
