"""Reading post metrics from the platforms (X public_metrics, LinkedIn social
actions) with app-level credentials. Base URLs are configurable: tests and the
local stack point them at the simulator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from chorus.kit.networks import Network


class RateLimited(Exception):
    def __init__(self, network: str, reset_at: float) -> None:
        super().__init__(f"{network} rate limit reached until {reset_at:.0f}")
        self.network = network
        self.reset_at = reset_at


class PostGone(Exception):
    """The post was deleted or is not visible with these credentials."""


@dataclass(frozen=True)
class PlatformCredentials:
    x_base_url: str
    x_app_bearer_token: str
    linkedin_base_url: str
    linkedin_token: str
    linkedin_version: str = "202511"


def _reset_at(response: httpx.Response) -> float:
    for header in ("x-rate-limit-reset",):
        if response.headers.get(header, "").isdigit():
            return float(response.headers[header])
    retry_after = response.headers.get("retry-after", "60")
    return time.time() + (float(retry_after) if retry_after.isdigit() else 60.0)


class MetricsReader:
    def __init__(self, http: httpx.AsyncClient, credentials: PlatformCredentials) -> None:
        self._http = http
        self._c = credentials

    def can_read(self, network: str) -> bool:
        if network == Network.X:
            return bool(self._c.x_app_bearer_token)
        if network == Network.LINKEDIN:
            return bool(self._c.linkedin_token)
        return False

    async def totals(self, network: str, post_ref: str) -> dict[str, int]:
        """Current totals by engagement kind."""
        if network == Network.X:
            response = await self._http.get(
                f"{self._c.x_base_url}/2/tweets/{post_ref}",
                params={"tweet.fields": "public_metrics"},
                headers={"Authorization": f"Bearer {self._c.x_app_bearer_token}"},
            )
            metrics = self._json(network, response)["data"]["public_metrics"]
            return {
                "reaction": metrics.get("like_count", 0),
                "comment": metrics.get("reply_count", 0),
                "reshare": metrics.get("retweet_count", 0) + metrics.get("quote_count", 0),
                "impression": metrics.get("impression_count", 0),
            }
        response = await self._http.get(
            f"{self._c.linkedin_base_url}/rest/socialActions/{quote(post_ref, safe='')}",
            headers={
                "Authorization": f"Bearer {self._c.linkedin_token}",
                "LinkedIn-Version": self._c.linkedin_version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
        )
        body = self._json(network, response)
        return {
            "reaction": body.get("likesSummary", {}).get("totalLikes", 0),
            "comment": body.get("commentsSummary", {}).get("aggregatedTotalComments", 0),
        }

    @staticmethod
    def _json(network: str, response: httpx.Response) -> Any:
        if response.status_code == 429:
            raise RateLimited(network, _reset_at(response))
        if response.status_code in (403, 404, 410):
            raise PostGone(f"{network} answered {response.status_code}")
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body
