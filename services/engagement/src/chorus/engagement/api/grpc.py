"""gRPC entry points of the engagement service, calling the same use cases as REST."""

from __future__ import annotations

from typing import Any

import grpc

from chorus.contracts.engagement.v1 import engagement_service_pb2 as pb
from chorus.contracts.engagement.v1 import engagement_service_pb2_grpc as pb_grpc
from chorus.engagement.app.engagement import EngagementApp
from chorus.kit.auth import TokenVerifier
from chorus.kit.grpc_server import Registration, principal_from
from chorus.kit.networks import network_name, network_pb


class EngagementServicer(pb_grpc.EngagementServiceServicer):
    def __init__(self, app: EngagementApp, verifier: TokenVerifier) -> None:
        self._app = app
        self._verifier = verifier

    async def CreateTrackedLink(
        self, request: pb.CreateTrackedLinkRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        link = await self._app.create_link(
            await principal_from(context, self._verifier),
            share_id=request.share_id,
            network=network_name(request.network),
            content_id=request.content_id,
            advocate=request.advocate,
            url=request.url,
        )
        return pb.CreateTrackedLinkResponse(
            link=pb.TrackedLink(
                code=link.code,
                short_url=self._app.short_url(link.code),
                target_url=link.target,
                share_id=link.share_id,
                network=network_pb(link.network),
            )
        )

    async def _totals(self, context: grpc.aio.ServicerContext, scope: str, key: str) -> Any:
        counts = await self._app.totals(await principal_from(context, self._verifier), scope, key)
        return pb.EngagementTotals(counts=counts)

    async def GetShareEngagement(
        self, request: pb.GetShareEngagementRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return pb.GetShareEngagementResponse(
            totals=await self._totals(context, "share", request.share_id)
        )

    async def BatchGetShareEngagement(
        self, request: pb.BatchGetShareEngagementRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        who = await principal_from(context, self._verifier)
        found = await self._app.share_totals(who, request.share_ids)
        return pb.BatchGetShareEngagementResponse(
            totals={share_id: pb.EngagementTotals(counts=c) for share_id, c in found.items()}
        )

    async def GetContentEngagement(
        self, request: pb.GetContentEngagementRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return pb.GetContentEngagementResponse(
            totals=await self._totals(context, "content", request.content_id)
        )

    async def GetAdvocateEngagement(
        self, request: pb.GetAdvocateEngagementRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return pb.GetAdvocateEngagementResponse(
            totals=await self._totals(context, "advocate", request.advocate)
        )


def registration(servicer: EngagementServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["EngagementService"].full_name
    return (servicer, pb_grpc.add_EngagementServiceServicer_to_server, name)
