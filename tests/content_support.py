"""Setting up content scenarios through the public API: the program, and
items taken through submit and approve."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from chorus_testing import bearer

POLICY = "Share what you like. Never share confidential information."


class HasHttp(Protocol):
    @property
    def http(self) -> httpx.AsyncClient: ...


def item_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Our new plant opens",
        "url": "https://acme.example/news/plant",
        "summary": "Three years of work.",
        "commentaries": [
            {"network": "linkedin", "text": "Proud of the team!"},
            {"network": "x", "text": "New plant https://acme.example/news/plant"},
        ],
        "tags": ["news"],
    }
    body.update(changes)
    return body


async def set_program(c: HasHttp, tenant: str, **changes: Any) -> dict[str, Any]:
    body = {
        "policy_text": POLICY,
        "disclosure": "#employee",
        "disclosure_auto_append": True,
        "banned_terms": ["guaranteed returns"],
        "allowed_domains": ["acme.example"],
    }
    body.update(changes)
    current = await c.http.get("/v1/program", headers=bearer(tenant, "ada", "admin"))
    response = await c.http.put(
        "/v1/program",
        json=body,
        headers={**bearer(tenant, "ada", "admin"), "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def approved_item(c: HasHttp, tenant: str, **changes: Any) -> dict[str, Any]:
    curator = bearer(tenant, "carol", "curator")
    created = await c.http.post("/v1/items", json=item_body(**changes), headers=curator)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert (await c.http.post(f"/v1/items/{item_id}/submit", headers=curator)).status_code == 200
    approved = await c.http.post(
        f"/v1/items/{item_id}/approve", headers=bearer(tenant, "alice", "approver")
    )
    assert approved.status_code == 200, approved.text
    return dict(approved.json())
