"""The platform adapters tell a refusal from a platform that did not answer."""

from __future__ import annotations

import httpx
import pytest

from chorus.distribution.adapters.platforms import LinkedIn, PlatformUnreachable, X


def _linkedin(handler: httpx.MockTransport) -> LinkedIn:
    return LinkedIn(httpx.AsyncClient(transport=handler), "https://api.test")


async def test_a_dropped_pooled_connection_is_asked_again_for_the_member() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadError("server closed the connection", request=request)
        return httpx.Response(200, json={"sub": "m-1"})

    assert await _linkedin(httpx.MockTransport(answer)).connected("t") == ("m-1", None)
    assert calls == 2


async def test_a_platform_that_keeps_failing_is_unreachable_not_a_crash() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("down", request=request)

    with pytest.raises(PlatformUnreachable, match="linkedin: ReadError"):
        await _linkedin(httpx.MockTransport(answer)).connected("t")


async def test_a_server_error_on_the_profile_is_unreachable() -> None:
    platform = X(
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(502))),
        "https://api.test",
        "id",
        "secret",
    )
    with pytest.raises(PlatformUnreachable, match="x: HTTP 502"):
        await platform.connected("t")


async def test_x_tells_the_member_and_their_followers_in_one_request() -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        body = {"data": {"id": "42", "public_metrics": {"followers_count": 120}}}
        return httpx.Response(200, json=body)

    platform = X(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)), "https://api.test", "id", "s"
    )
    assert await platform.connected("t") == ("42", 120)
    assert asked == ["https://api.test/2/users/me?user.fields=public_metrics"]


async def test_a_refused_code_is_none_and_a_failing_token_endpoint_is_unreachable() -> None:
    refused = _linkedin(httpx.MockTransport(lambda _: httpx.Response(400, json={})))
    assert await refused.exchange("code", "verifier", "https://app.test/cb") is None

    exchanges = 0

    def broken(request: httpx.Request) -> httpx.Response:
        nonlocal exchanges
        exchanges += 1
        return httpx.Response(503)

    with pytest.raises(PlatformUnreachable, match="HTTP 503"):
        await _linkedin(httpx.MockTransport(broken)).exchange("code", "v", "https://app.test/cb")
    assert exchanges == 1, "a one-time code is never sent twice"
