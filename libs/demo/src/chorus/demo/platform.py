"""Chorus's public REST APIs, called the way a tenant's people call them.

Used by `chorus-demo` to seed the local platform and by the end-to-end
journey test: every step goes through the services' real HTTP endpoints.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from chorus.kit.auth import dev_authorization


class StepFailed(RuntimeError):
    """A call answered something other than what the step needs."""


@dataclass(frozen=True)
class Endpoints:
    content: str = "http://127.0.0.1:8010"
    distribution: str = "http://127.0.0.1:8020"
    engagement: str = "http://127.0.0.1:8030"
    gamification: str = "http://127.0.0.1:8040"
    # Read by people, not by the seed (which waits for the services it calls).
    insights: str = "http://127.0.0.1:8050"
    simulator: str = "http://127.0.0.1:8090"

    def services(self) -> dict[str, str]:
        return {
            "content": self.content,
            "distribution": self.distribution,
            "engagement": self.engagement,
            "gamification": self.gamification,
        }


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise StepFailed(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return dict(response.json()) if response.content else {}


class Platform:
    def __init__(self, http: httpx.AsyncClient, endpoints: Endpoints, tenant: str) -> None:
        self.http = http
        self.endpoints = endpoints
        self.tenant = tenant

    def auth(self, user: str, *roles: str, groups: tuple[str, ...] = ()) -> dict[str, str]:
        return dev_authorization(self.tenant, user, roles, groups)

    async def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        probes = {name: f"{base}/readyz" for name, base in self.endpoints.services().items()}
        probes["simulator"] = f"{self.endpoints.simulator}/_sim/posts"
        for name, url in probes.items():
            while True:
                try:
                    if (await self.http.get(url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise StepFailed(f"{name} was not ready within {timeout:.0f} s ({url})")
                await asyncio.sleep(0.5)

    # content -------------------------------------------------------------------
    async def set_program(self, admin: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sets the program unless it already says the same (a re-run keeps the data)."""
        url = f"{self.endpoints.content}/v1/program"
        current = await self.http.get(url, headers=self.auth(admin, "admin"))
        program = expect(current, 200)
        if all(program.get(key) == value for key, value in body.items()):
            return program
        headers = {**self.auth(admin, "admin"), "If-Match": current.headers["ETag"]}
        return expect(await self.http.put(url, json=body, headers=headers), 200)

    async def create_item(self, curator: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        headers = {**self.auth(curator, "curator"), "Idempotency-Key": key}
        url = f"{self.endpoints.content}/v1/items"
        return expect(await self.http.post(url, json=body, headers=headers), 201)

    async def approved_item(
        self, curator: str, approver: str, body: dict[str, Any], key: str
    ) -> dict[str, Any]:
        """Created, submitted by the curator and approved by someone else (four eyes)."""
        item = await self.create_item(curator, body, key)
        url = f"{self.endpoints.content}/v1/items/{item['id']}"
        if item["state"] == "draft":
            item = expect(
                await self.http.post(f"{url}/submit", headers=self.auth(curator, "curator")), 200
            )
        if item["state"] == "in_review":
            item = expect(
                await self.http.post(f"{url}/approve", headers=self.auth(approver, "approver")),
                200,
            )
        return item

    async def retract(self, curator: str, item_id: str, reason: str) -> dict[str, Any]:
        url = f"{self.endpoints.content}/v1/items/{item_id}/retract"
        body = {"reason": reason}
        return expect(
            await self.http.post(url, json=body, headers=self.auth(curator, "curator")), 200
        )

    async def enroll(
        self,
        advocate: str,
        policy_version: int,
        groups: list[str],
        audience: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Opt in; `audience` is the followers or connections the advocate declares."""
        url = f"{self.endpoints.content}/v1/enrollment"
        body = {"policy_version": policy_version, "groups": groups, "audience": audience or {}}
        return expect(
            await self.http.put(url, json=body, headers=self.auth(advocate, "advocate")), 200
        )

    async def opt_out(self, advocate: str) -> dict[str, Any]:
        url = f"{self.endpoints.content}/v1/enrollment"
        return expect(await self.http.delete(url, headers=self.auth(advocate, "advocate")), 200)

    async def feed(self, advocate: str, groups: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        url = f"{self.endpoints.content}/v1/feed"
        page = expect(
            await self.http.get(url, headers=self.auth(advocate, "advocate", groups=groups)), 200
        )
        return list(page["items"])

    # distribution ----------------------------------------------------------------
    def member_id(self, advocate: str) -> str:
        """The advocate's id at the (simulated) platform."""
        return f"{self.tenant}-{advocate}"

    async def accounts(self, advocate: str) -> list[dict[str, Any]]:
        url = f"{self.endpoints.distribution}/v1/accounts"
        response = await self.http.get(url, headers=self.auth(advocate, "advocate"))
        if response.status_code != 200:
            raise StepFailed(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        return list(response.json())

    async def connect(self, advocate: str, network: str) -> dict[str, Any]:
        """OAuth 2.0 as the browser would do it: start, consent at the platform
        (the simulator issues the code), callback with code and state."""
        auth = self.auth(advocate, "advocate")
        base = f"{self.endpoints.distribution}/v1/accounts/{network}"
        started = expect(
            await self.http.post(
                f"{base}/connect", json={"redirect_uri": "http://127.0.0.1/callback"}, headers=auth
            ),
            200,
        )
        code = f"demo-{self.tenant}-{advocate}-{network}-{time.time_ns()}"
        # The member grants what the authorization URL asks for.
        asked = parse_qs(urlsplit(started["authorization_url"]).query)["scope"][0].split()
        consent = {
            "network": network,
            "user_id": self.member_id(advocate),
            "code": code,
            "scopes": asked,
        }
        expect(await self.http.post(f"{self.endpoints.simulator}/_sim/tokens", json=consent), 201)
        body = {"code": code, "state": started["state"]}
        return expect(await self.http.post(f"{base}/callback", json=body, headers=auth), 200)

    async def share(
        self, advocate: str, content_id: str, networks: list[str], key: str
    ) -> dict[str, Any]:
        headers = {**self.auth(advocate, "advocate"), "Idempotency-Key": key}
        body = {"content_id": content_id, "targets": [{"network": n} for n in networks]}
        url = f"{self.endpoints.distribution}/v1/shares"
        return expect(await self.http.post(url, json=body, headers=headers), 201)

    async def share_status(self, advocate: str, share_id: str) -> dict[str, Any]:
        url = f"{self.endpoints.distribution}/v1/shares/{share_id}"
        return expect(await self.http.get(url, headers=self.auth(advocate, "advocate")), 200)

    async def confirm_intent(self, advocate: str, share_id: str, network: str) -> dict[str, Any]:
        url = f"{self.endpoints.distribution}/v1/shares/{share_id}/networks/{network}/confirm"
        return expect(await self.http.post(url, headers=self.auth(advocate, "advocate")), 200)

    # gamification -------------------------------------------------------------------
    async def leaderboard(self, viewer: str, kind: str = "week") -> dict[str, Any]:
        url = f"{self.endpoints.gamification}/v1/leaderboards/{kind}"
        return expect(await self.http.get(url, headers=self.auth(viewer, "advocate")), 200)

    async def standing(self, advocate: str) -> dict[str, Any]:
        url = f"{self.endpoints.gamification}/v1/me/standing"
        return expect(await self.http.get(url, headers=self.auth(advocate, "advocate")), 200)

    # engagement ---------------------------------------------------------------------------
    async def set_webhook_secret(self, admin: str, secret: str) -> None:
        url = f"{self.endpoints.engagement}/v1/settings/webhook-secret"
        body = {"secret": secret}
        expect(await self.http.put(url, json=body, headers=self.auth(admin, "admin")), 204)

    async def send_engagement(self, secret: str, observation: dict[str, Any]) -> None:
        """An integrator relaying what a platform counted, signed with the
        tenant's webhook secret (HMAC-SHA256 over "<timestamp>.<body>")."""
        body = json.dumps(observation).encode()
        stamp = str(int(time.time()))
        mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        headers = {
            "content-type": "application/json",
            "x-chorus-timestamp": stamp,
            "x-chorus-signature": f"sha256={mac.hexdigest()}",
        }
        url = f"{self.endpoints.engagement}/v1/webhooks/{self.tenant}/engagement"
        expect(await self.http.post(url, content=body, headers=headers), 200, 201, 202)

    # insights -----------------------------------------------------------------------------
    async def my_insights(self, advocate: str, **period: str) -> dict[str, Any]:
        url = f"{self.endpoints.insights}/v1/insights/me"
        return expect(
            await self.http.get(url, params=period, headers=self.auth(advocate, "advocate")), 200
        )

    # the simulated platforms ------------------------------------------------------------
    async def set_audience_at_platform(self, advocate: str, network: str, size: int) -> None:
        """The advocate's followers (X) or connections (LinkedIn) at the platform."""
        body = {"network": network, "user_id": self.member_id(advocate), "size": size}
        expect(await self.http.post(f"{self.endpoints.simulator}/_sim/audiences", json=body), 201)

    async def posts_at_platform(self, advocate: str) -> list[dict[str, Any]]:
        posts = expect(await self.http.get(f"{self.endpoints.simulator}/_sim/posts"), 200)
        return [p for p in posts["posts"] if p["user_id"] == self.member_id(advocate)]
