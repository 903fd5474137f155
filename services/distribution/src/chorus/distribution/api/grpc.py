"""gRPC entry points of distribution, calling the same use cases as REST."""

from __future__ import annotations

import grpc

from chorus.contracts.distribution.v1 import distribution_service_pb2 as pb
from chorus.contracts.distribution.v1 import distribution_service_pb2_grpc as pb_grpc
from chorus.distribution.app.catalog import Catalog
from chorus.kit.auth import TokenVerifier
from chorus.kit.grpc_server import Registration, principal_from


class DistributionServicer(pb_grpc.DistributionServiceServicer):
    def __init__(self, catalog: Catalog, verifier: TokenVerifier) -> None:
        self._catalog = catalog
        self._verifier = verifier

    async def GetSharableContent(
        self, request: pb.GetSharableContentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSharableContentResponse:
        principal = principal_from(context, self._verifier)
        found = await self._catalog.sharable_content(principal, request.content_id)
        return pb.GetSharableContentResponse(content=found.content, retracted=found.retracted)


def registration(servicer: DistributionServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["DistributionService"].full_name
    return (servicer, pb_grpc.add_DistributionServiceServicer_to_server, name)
