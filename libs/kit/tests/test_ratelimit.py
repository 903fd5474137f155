"""Per-client token buckets and the client address behind trusted proxies."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request

from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.ratelimit import ClientBuckets, PublicLimits, client_address


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_steady_rate() -> None:
    clock = Clock()
    buckets = ClientBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0  # another client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][:3] == [0, 0, 0]  # refilled to the burst only


def test_refused_requests_do_not_spend_tokens() -> None:
    clock = Clock()
    buckets = ClientBuckets(rate=1, burst=1, clock=clock)
    assert buckets.take("a") == 0
    for _ in range(10):
        assert buckets.take("a") > 0
    clock.now += 1
    assert buckets.take("a") == 0


def test_the_least_recently_seen_client_is_forgotten_first() -> None:
    clock = Clock()
    buckets = ClientBuckets(rate=1, burst=1, max_clients=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a seen again: b is now the oldest
    buckets.take("c")
    assert buckets.take("a") > 0  # still remembered, still empty
    assert buckets.take("b") == 0  # forgotten: a full bucket again


def request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 5555)})


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(request("192.0.2.1", "10.9.9.9"), 0) == "192.0.2.1"


def test_behind_proxies_the_client_is_counted_from_the_right() -> None:
    spoofed = request("10.0.0.2", "6.6.6.6, 203.0.113.9", "10.0.0.1")
    assert client_address(spoofed, 1) == "10.0.0.1"
    assert client_address(spoofed, 2) == "203.0.113.9"
    assert client_address(spoofed, 9) == "6.6.6.6"
    assert client_address(request("10.0.0.2"), 1) == "10.0.0.2"


def test_each_named_limit_has_its_own_buckets_and_refusals_say_when() -> None:
    limits = PublicLimits(rate=0.5, burst=1, trusted_proxy_hops=0, registry=CollectorRegistry())
    limits.check("redirect", "a")
    limits.check("webhook", "a")
    with pytest.raises(ProblemError) as refused:
        limits.check("redirect", "a")
    assert refused.value.code is ErrorCode.RATE_LIMITED
    assert refused.value.extra == {"retry_after_seconds": 2}
