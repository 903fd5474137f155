"""The services' public REST APIs, called with the signed-in person's access
token. The hub never reads another service's database: what it shows is what
any integrator could fetch. Calls are CLIENT spans under the hub's request span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

Json = Any


class ApiProblem(Exception):
    """A service answered with an error (problem+json), or could not be reached."""

    def __init__(
        self, status: int, title: str, detail: str, violations: list[dict[str, Any]]
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.violations = violations  # {field, message}: shown beside the field

    @property
    def unavailable(self) -> bool:
        return self.status >= 500

    @property
    def unauthenticated(self) -> bool:
        return self.status == 401


@dataclass(frozen=True)
class ServiceUrls:
    content: str
    distribution: str
    engagement: str
    gamification: str
    insights: str


class ChorusApi:
    def __init__(self, http: httpx.AsyncClient, urls: ServiceUrls) -> None:
        self._http = http
        self._urls = urls

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        params: dict[str, Any] | None = None,
        json: Json = None,
        headers: dict[str, str] | None = None,
    ) -> Json:
        response = await self.response(
            method, service, path, token, params=params, json=json, headers=headers
        )
        return response.json() if response.content else None

    async def response(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        *,
        params: dict[str, Any] | None = None,
        json: Json = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A successful response as it came (a CSV export: its body and headers);
        a service's refusal or absence as an ApiProblem."""
        base = getattr(self._urls, service)
        try:
            response = await self._http.request(
                method,
                f"{base}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
            )
        except httpx.HTTPError as error:
            raise ApiProblem(503, f"{service} is unavailable", str(error), []) from error
        if not response.is_success:
            raise _problem(service, response)
        return response

    async def get(self, service: str, path: str, token: str, **params: Any) -> Json:
        return await self.call("GET", service, path, token, params=_present(params))


def _present(params: dict[str, Any]) -> dict[str, Any]:
    """The query parameters that have a value."""
    return {k: v for k, v in params.items() if v is not None}


def _problem(service: str, response: httpx.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiProblem(
        response.status_code,
        str(body.get("title") or f"{service} answered {response.status_code}"),
        str(body.get("detail") or ""),
        [v for v in body.get("violations", []) if isinstance(v, dict)],
    )
