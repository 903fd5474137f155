"""gRPC entry points of the gamification service (methods arrive with its features)."""

from __future__ import annotations

from chorus.contracts.gamification.v1 import gamification_service_pb2 as pb
from chorus.contracts.gamification.v1 import gamification_service_pb2_grpc as pb_grpc
from chorus.kit.grpc_server import Registration


class GamificationServicer(pb_grpc.GamificationServiceServicer):
    pass


def registration() -> Registration:
    name = pb.DESCRIPTOR.services_by_name["GamificationService"].full_name
    return (GamificationServicer(), pb_grpc.add_GamificationServiceServicer_to_server, name)
