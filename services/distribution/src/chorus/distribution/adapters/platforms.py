"""The LinkedIn Posts API and the X API v2, as Chorus calls them. Base URLs
are configurable: tests, benchmarks and `make run` point them at the simulator."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx

from chorus.distribution.domain.sharing import PlatformAnswer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostAttempt:
    answer: PlatformAnswer
    post_ref: str = ""
    reason: str = ""
    reset_at: float = 0.0  # for 429s


class PlatformUnreachable(Exception):
    """The platform did not answer, or answered with a server error: worth
    trying again later, unlike a refusal."""


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str
    scope: str


class Platform(Protocol):
    network: str

    def authorization_url(
        self, client_id: str, redirect_uri: str, state: str, challenge: str
    ) -> str: ...

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant | None: ...

    async def refresh(self, refresh_token: str) -> TokenGrant | None: ...

    async def connected(self, token: str) -> tuple[str, int | None]:
        """Whose token it is, and their audience where the platform says."""
        ...

    async def audience_size(self, token: str, member: str) -> int | None: ...

    async def post(
        self, token: str, member: str, text: str, link: str, title: str
    ) -> PostAttempt: ...

    async def find_post(self, token: str, member: str, link: str) -> str | None: ...

    async def delete(self, token: str, post_ref: str) -> PostAttempt: ...


def _reset_at(response: httpx.Response) -> float:
    reset = response.headers.get("x-rate-limit-reset", "")
    if reset.isdigit():
        return float(reset)
    retry_after = response.headers.get("retry-after", "")
    return time.time() + (float(retry_after) if retry_after.isdigit() else 60.0)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail") or body.get("message") or body.get("title") or body)[:300]


async def _send(
    http: httpx.AsyncClient, request: httpx.Request
) -> tuple[httpx.Response | None, bool]:
    """(response, sent): `sent` is False only when the request surely never left."""
    try:
        return await http.send(request), True
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
        return None, False
    except httpx.HTTPError:
        return None, True


def _attempt(response: httpx.Response | None, sent: bool, post_ref: str = "") -> PostAttempt:
    if response is None:
        return PostAttempt(PlatformAnswer(None, sent))
    return PostAttempt(
        PlatformAnswer(response.status_code, True),
        post_ref,
        "" if response.is_success else _reason(response),
        _reset_at(response) if response.status_code == 429 else 0.0,
    )


class _OAuth:
    network: str
    _authorize_url: str
    _token_path: str
    _scopes: str

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        authorize_url: str = "",
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        # Where the advocate consents: the platform's own page unless told
        # (the simulator's locally).
        self._authorize_url = authorize_url or type(self)._authorize_url

    def authorization_url(
        self, client_id: str, redirect_uri: str, state: str, challenge: str
    ) -> str:
        return (
            self._authorize_url
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id or self._client_id,
                    "redirect_uri": redirect_uri,
                    "state": state,
                    "scope": self._scopes,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
        )

    async def _token(self, form: dict[str, str]) -> TokenGrant | None:
        """The grant, None when the platform refuses (a 4xx); not retried,
        because an authorization code is good for one exchange only."""
        try:
            response = await self._http.post(
                f"{self._base}{self._token_path}",
                data={**form, "client_id": self._client_id, "client_secret": self._client_secret},
            )
        except httpx.HTTPError as error:
            raise PlatformUnreachable(f"{self.network}: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise PlatformUnreachable(f"{self.network}: HTTP {response.status_code}")
        if not response.is_success:
            return None
        body = response.json()
        return TokenGrant(
            body["access_token"],
            int(body.get("expires_in", 0)),
            body.get("refresh_token", ""),
            body.get("scope", ""),
        )

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant | None:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenGrant | None:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _identity(self, path: str, token: str) -> Any:
        """GET the token owner's profile; asked twice on a transport error,
        since a pooled connection the server has just closed fails a first try."""
        request = self._http.build_request(
            "GET", f"{self._base}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            response = await self._http.send(request)
        except httpx.TransportError:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                raise PlatformUnreachable(f"{self.network}: {type(error).__name__}") from error
        if not response.is_success:
            raise PlatformUnreachable(f"{self.network}: HTTP {response.status_code}")
        return response.json()

    async def _audience(self, path: str, token: str, read: Callable[[Any], Any]) -> int | None:
        """The member's audience as the platform reports it; None when it will
        not say (a scope not granted, an outage): reach then uses the size the
        advocate declared, or an estimate."""
        try:
            return int(read(await self._identity(path, token)))
        except (PlatformUnreachable, LookupError, TypeError, ValueError) as error:
            log.info("no audience size", extra={"network": self.network, "error": str(error)})
            return None


class LinkedIn(_OAuth):
    network = "linkedin"
    _authorize_url = "https://www.linkedin.com/oauth/v2/authorization"
    _token_path = "/oauth/v2/accessToken"
    _scopes = "openid profile w_member_social"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str = "",
        client_secret: str = "",
        version: str = "202511",
        *,
        connections_size: bool = False,
        authorize_url: str = "",
    ) -> None:
        super().__init__(http, base_url, client_id, client_secret, authorize_url=authorize_url)
        self._version = version
        # The Connections Size API is for LinkedIn's partner programmes only:
        # asked for (and its scope requested) only when the app is approved.
        self._connections_size = connections_size
        if connections_size:
            self._scopes = f"{LinkedIn._scopes} r_1st_connections_size"

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    async def connected(self, token: str) -> tuple[str, int | None]:
        """Two requests: the member's id (OpenID userinfo), then their connections."""
        member = str((await self._identity("/v2/userinfo", token))["sub"])
        return member, await self.audience_size(token, member)

    async def audience_size(self, token: str, member: str) -> int | None:
        if not self._connections_size:
            return None
        path = f"/v2/connections/{quote(f'urn:li:person:{member}', safe=':')}"
        return await self._audience(path, token, lambda body: body["firstDegreeSize"])

    async def post(self, token: str, member: str, text: str, link: str, title: str) -> PostAttempt:
        body: dict[str, Any] = {
            "author": f"urn:li:person:{member}",
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"article": {"source": link, "title": title}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        request = self._http.build_request(
            "POST", f"{self._base}/rest/posts", json=body, headers=self._headers(token)
        )
        response, sent = await _send(self._http, request)
        post_ref = response.headers.get("x-restli-id", "") if response is not None else ""
        return _attempt(response, sent, post_ref)

    async def find_post(self, token: str, member: str, link: str) -> str | None:
        response = await self._http.get(
            f"{self._base}/rest/posts",
            headers=self._headers(token),
            params={"q": "author", "author": f"urn:li:person:{member}", "count": "50"},
        )
        response.raise_for_status()
        for element in response.json().get("elements", []):
            if element.get("content", {}).get("article", {}).get("source") == link or (
                link in element.get("commentary", "")
            ):
                return str(element["id"])
        return None

    async def delete(self, token: str, post_ref: str) -> PostAttempt:
        request = self._http.build_request(
            "DELETE",
            f"{self._base}/rest/posts/{quote(post_ref, safe='')}",
            headers=self._headers(token),
        )
        return _attempt(*await _send(self._http, request))


class X(_OAuth):
    network = "x"
    _authorize_url = "https://x.com/i/oauth2/authorize"
    _token_path = "/2/oauth2/token"
    _scopes = "tweet.read tweet.write users.read offline.access"

    _me = "/2/users/me?user.fields=public_metrics"

    async def connected(self, token: str) -> tuple[str, int | None]:
        """One request: X's profile carries both the id and the followers."""
        body = await self._identity(self._me, token)
        member = str(body["data"]["id"])
        try:
            return member, _followers(body)
        except (LookupError, TypeError, ValueError):
            return member, None

    async def audience_size(self, token: str, member: str) -> int | None:
        return await self._audience(self._me, token, _followers)

    async def post(self, token: str, member: str, text: str, link: str, title: str) -> PostAttempt:
        request = self._http.build_request(
            "POST",
            f"{self._base}/2/tweets",
            json={"text": text},
            headers={"Authorization": f"Bearer {token}"},
        )
        response, sent = await _send(self._http, request)
        post_ref = ""
        if response is not None and response.is_success:
            post_ref = str(response.json()["data"]["id"])
        return _attempt(response, sent, post_ref)

    async def find_post(self, token: str, member: str, link: str) -> str | None:
        response = await self._http.get(
            f"{self._base}/2/users/{member}/tweets",
            params={"max_results": "100"},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        for tweet in response.json().get("data", []):
            if link in tweet.get("text", ""):
                return str(tweet["id"])
        return None

    async def delete(self, token: str, post_ref: str) -> PostAttempt:
        request = self._http.build_request(
            "DELETE",
            f"{self._base}/2/tweets/{post_ref}",
            headers={"Authorization": f"Bearer {token}"},
        )
        return _attempt(*await _send(self._http, request))


def _followers(body: Any) -> int:
    return int(body["data"]["public_metrics"]["followers_count"])
