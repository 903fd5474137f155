"""Tracked links come from the engagement service over gRPC (idempotent per
share and network), called with a short-lived service token for the tenant.

Engagement mints a link only to the URL of an item it knows to be live, from
the same content.approved that distribution learned the item from: it may be
a moment behind, so a refusal for that reason is asked again for a few seconds."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import grpc

from chorus.contracts.engagement.v1 import engagement_service_pb2 as pb
from chorus.contracts.engagement.v1 import engagement_service_pb2_grpc as pb_grpc
from chorus.distribution.domain.model import Share
from chorus.kit.auth import Role, mint_token
from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.networks import Network, network_pb
from chorus.kit.tracing import traced_channel


@dataclass(frozen=True)
class ServiceIdentity:
    private_key_pem: str
    issuer: str
    audience: str
    # Names the key, so that a verifier beside a provider's JWKS (which lacks
    # it) checks the token with its PEM key instead.
    key_id: str
    subject: str = "distribution"


# How long engagement may lag behind distribution on content.approved.
NOT_YET_LIVE_RETRY_SECONDS = (0.2, 0.4, 0.8, 1.6, 3.2)


class TrackedLinks:
    def __init__(self, target: str, identity: ServiceIdentity) -> None:
        self._target = target
        self._identity = identity
        self._channel: grpc.aio.Channel | None = None
        self._tokens: dict[str, tuple[float, str]] = {}

    async def start(self) -> None:
        self._channel = traced_channel(self._target)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    def _token(self, tenant: str) -> str:
        cached = self._tokens.get(tenant)
        if cached and cached[0] > time.time() + 60:
            return cached[1]
        token = mint_token(
            private_key_pem=self._identity.private_key_pem,
            tenant=tenant,
            subject=self._identity.subject,
            roles=[Role.SERVICE.value],
            issuer=self._identity.issuer,
            audience=self._identity.audience,
            ttl_seconds=600,
            key_id=self._identity.key_id,
        )
        self._tokens[tenant] = (time.time() + 600, token)
        return token

    async def link_for(self, share: Share, network: Network, url: str) -> str:
        """The short URL to post for this share on this network (to `url`, the item's)."""
        assert self._channel is not None, "not started"
        stub = pb_grpc.EngagementServiceStub(self._channel)
        metadata = [("authorization", f"Bearer {self._token(share.tenant)}")]
        request = pb.CreateTrackedLinkRequest(
            share_id=share.id,
            network=network_pb(network),
            content_id=share.content_id,
            advocate=share.advocate,
            url=url,
        )
        for attempt in range(len(NOT_YET_LIVE_RETRY_SECONDS) + 1):
            try:
                reply = await stub.CreateTrackedLink(request, metadata=metadata, timeout=10)
                return str(reply.link.short_url)
            except grpc.aio.AioRpcError as error:
                if error.code() is not grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                if attempt == len(NOT_YET_LIVE_RETRY_SECONDS):
                    raise ProblemError(
                        ErrorCode.INVALID_STATE,
                        "no tracked link: the item is not live for engagement",
                        extra={"reason": "content_not_live"},
                    ) from error
            await asyncio.sleep(NOT_YET_LIVE_RETRY_SECONDS[attempt])
        raise AssertionError("the loop returns or raises")
