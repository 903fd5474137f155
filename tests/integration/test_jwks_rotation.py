"""A key rotation at the identity provider, end to end: a service that trusts
a JWKS URL (served over HTTP here, as a provider serves it) takes the new
key's tokens at once, both keys during the overlap, and refuses the old key's
once the provider has retired it and the cache has expired — on REST and gRPC."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from chorus.content.main import ContentSettings, build
from chorus.contracts.content.v1 import content_service_pb2 as pb
from chorus.contracts.content.v1 import content_service_pb2_grpc as pb_grpc
from chorus.kit.auth import mint_token
from chorus_testing import Receive, Scope, Send, drop_database, free_port, running, unique

ISSUER, AUDIENCE, CACHE_SECONDS = "https://id.test/realms/acme", "chorus", 1.0


class KeySet:
    """A JWKS endpoint (ASGI) serving the keys the test puts in it."""

    def __init__(self) -> None:
        self.public: dict[str, dict[str, Any]] = {}
        self.private: dict[str, str] = {}

    def add(self, kid: str) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        self.private[kid] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
        self.public[kid] = {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}

    def token(self, kid: str) -> str:
        return mint_token(
            private_key_pem=self.private[kid],
            tenant="acme",
            subject="carol",
            roles=["curator"],
            issuer=ISSUER,
            audience=AUDIENCE,
            key_id=kid,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = json.dumps({"keys": list(self.public.values())}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def provider() -> AsyncIterator[tuple[KeySet, str]]:
    keys, port = KeySet(), free_port()
    server = uvicorn.Server(uvicorn.Config(keys, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield keys, f"http://127.0.0.1:{port}/certs"
    finally:
        server.should_exit = True
        await serving


async def test_a_key_rotation_at_the_provider_end_to_end(
    provider: tuple[KeySet, str], kafka_bootstrap: str, mongo_url: str
) -> None:
    keys, url = provider
    settings = ContentSettings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        mongo_database=unique("test_jwks").replace("-", "_"),
        http_port=0,
        grpc_port=0,
        jwt_jwks_url=url,
        jwt_jwks_cache_seconds=CACHE_SECONDS,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    keys.add("2026-11")
    try:
        async with running(build(settings)) as service:
            base = f"http://127.0.0.1:{service.bound_http_port}"
            async with (
                httpx.AsyncClient(base_url=base, timeout=10) as http,
                grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc.port}") as channel,
            ):
                stub = pb_grpc.ContentServiceStub(channel)

                async def rest(kid: str) -> int:
                    auth = {"Authorization": f"Bearer {keys.token(kid)}"}
                    return (await http.get("/v1/items", headers=auth)).status_code

                async def rpc(kid: str) -> grpc.StatusCode:
                    try:
                        await stub.ListItems(
                            pb.ListItemsRequest(),
                            metadata=[("authorization", f"Bearer {keys.token(kid)}")],
                        )
                    except grpc.aio.AioRpcError as error:
                        return error.code()
                    return grpc.StatusCode.OK

                assert await rest("2026-11") == 200
                assert await rpc("2026-11") is grpc.StatusCode.OK

                # The provider adds a key and signs with it: taken at once.
                keys.add("2026-12")
                await asyncio.sleep(CACHE_SECONDS)  # past the refetch throttle, not more
                assert await rest("2026-12") == 200
                assert await rpc("2026-12") is grpc.StatusCode.OK
                assert await rest("2026-11") == 200  # the overlap

                # The old key is retired: refused once the cache has expired.
                del keys.public["2026-11"]
                await asyncio.sleep(CACHE_SECONDS + 0.2)
                assert await rest("2026-11") == 401
                assert await rpc("2026-11") is grpc.StatusCode.UNAUTHENTICATED
                assert await rest("2026-12") == 200
                # A key the provider never had: refused, never the development key.
                keys.add("rogue")
                rogue = keys.token("rogue")
                del keys.public["rogue"]
                refused = await http.get("/v1/items", headers={"Authorization": f"Bearer {rogue}"})
                assert refused.status_code == 401
    finally:
        await drop_database(mongo_url, settings.database_name)
