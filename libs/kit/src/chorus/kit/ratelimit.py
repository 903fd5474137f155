"""Per-client rate limits for the routes anyone can call without a token
(tracked-link redirects, signed webhooks, OAuth callbacks): a token bucket per
client address, refused with 429 problem+json and Retry-After.

In memory, per replica: a flood is refused by the replica it reaches, at the
cost of a dictionary lookup (no database round trip on the redirect's hot
path). With N replicas a client gets at most N times the rate, which is the
point of a flood limit, not an exact quota.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter

from chorus.kit.errors import ErrorCode, ProblemError

# Distinct clients remembered per limit; the least recently seen is forgotten
# first (it comes back with a full bucket, the same as a new client).
MAX_CLIENTS = 50_000


class ClientBuckets:
    """A token bucket per client: `burst` requests at once, then `rate` per second."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when the request may go on, else the seconds until it could."""
        now = self._clock()
        tokens, since = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def client_address(request: Request, trusted_proxy_hops: int) -> str:
    """The caller's address. Behind `trusted_proxy_hops` proxies that each
    append the address they were called from to X-Forwarded-For, the client is
    the entry that many places from the right; anything further left was
    written by the client itself and proves nothing."""
    peer = request.client.host if request.client else ""
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [
        part.strip()
        for value in request.headers.getlist("x-forwarded-for")
        for part in value.split(",")
        if part.strip()
    ]
    if not forwarded:
        return peer
    return forwarded[-min(trusted_proxy_hops, len(forwarded))]


class PublicLimits:
    """One bucket set per named limit, so a flood of redirects does not stop
    webhooks; `dependency(name)` is the FastAPI dependency that enforces it."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        trusted_proxy_hops: int,
        registry: CollectorRegistry,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.trusted_proxy_hops = trusted_proxy_hops
        self._limits: dict[str, ClientBuckets] = {}
        self._refused = Counter(
            "chorus_http_rate_limited_total",
            "Requests refused with 429 by a public route's per-client limit.",
            ["limit"],
            registry=registry,
        )

    def check(self, name: str, client: str) -> None:
        buckets = self._limits.get(name)
        if buckets is None:
            buckets = self._limits[name] = ClientBuckets(self.rate, self.burst)
        wait = buckets.take(client)
        if wait > 0:
            self._refused.labels(name).inc()
            raise ProblemError(
                ErrorCode.RATE_LIMITED,
                "too many requests from this address; retry after the given seconds",
                extra={"retry_after_seconds": max(1, math.ceil(wait))},
            )

    def dependency(self, name: str) -> Callable[[Request], Awaitable[None]]:
        async def limited(request: Request) -> None:
            self.check(name, client_address(request, self.trusted_proxy_hops))

        return limited
