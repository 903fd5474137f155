"""gRPC entry points of the engagement service (methods arrive with its features)."""

from __future__ import annotations

from chorus.contracts.engagement.v1 import engagement_service_pb2 as pb
from chorus.contracts.engagement.v1 import engagement_service_pb2_grpc as pb_grpc
from chorus.kit.grpc_server import Registration


class EngagementServicer(pb_grpc.EngagementServiceServicer):
    pass


def registration() -> Registration:
    name = pb.DESCRIPTOR.services_by_name["EngagementService"].full_name
    return (EngagementServicer(), pb_grpc.add_EngagementServiceServicer_to_server, name)
