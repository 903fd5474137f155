"""The signing keys an identity provider publishes at its JWKS URL, for
verifying its tokens without a blocking call on the event loop.

Keys are cached for a TTL. A token naming a key the cache lacks (a rotation's
new key) fetches the set again at once — at most once per `refetch_seconds`,
so that tokens with made-up key ids cannot make every request call the
provider. A key the provider has removed stops verifying at the next fetch.
When the provider cannot be reached, the keys of the last fetch go on being
used. (PyJWT's PyJWKClient fetches with urllib, blocking the event loop, and
its key cache keeps a removed key for ever.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt

from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.tracing import traced_http_client

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[dict[str, Any]]]


async def fetch_json(url: str) -> dict[str, Any]:
    async with traced_http_client(timeout=5) as client:
        response = await client.get(url, headers={"accept": "application/json"})
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float = 300.0,
        refetch_seconds: float = 1.0,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._refetch = refetch_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, token: str) -> Any:
        """The key that verifies `token` (by its `kid` header)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise ProblemError(ErrorCode.INVALID_TOKEN, f"the token is not valid: {exc}") from exc
        if self._older_than(self._ttl):
            await self._refresh()
        if self._pick(kid) is None and self._older_than(self._refetch):
            await self._refresh()  # perhaps a key the provider has just added
        key = self._pick(kid)
        if key is None:
            raise ProblemError(
                ErrorCode.INVALID_TOKEN, f"the token is not valid: no signing key {kid!r}"
            )
        return key

    def _pick(self, kid: object) -> Any:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(str(kid)) if kid is not None else None

    def _older_than(self, seconds: float) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= seconds

    async def _refresh(self) -> None:
        seen = self._fetched_at
        async with self._lock:
            if self._fetched_at != seen:
                return  # another request fetched while this one waited
            try:
                document = await self._fetch(self._url)
                keys = {
                    str(jwk.key_id): jwk.key
                    for jwk in jwt.PyJWKSet.from_dict(document).keys
                    if jwk.key_id is not None
                }
            except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
                if not self._keys:
                    raise ProblemError(
                        ErrorCode.UNAVAILABLE, f"the identity provider's keys: {exc}"
                    ) from exc
                log.warning(
                    "JWKS fetch failed; keeping the last keys",
                    extra={"url": self._url, "error": str(exc)},
                )
            else:
                self._keys = keys
            self._fetched_at = self._clock()
