"""gRPC entry points of the content service (methods arrive with its features)."""

from __future__ import annotations

from chorus.contracts.content.v1 import content_service_pb2 as pb
from chorus.contracts.content.v1 import content_service_pb2_grpc as pb_grpc
from chorus.kit.grpc_server import Registration


class ContentServicer(pb_grpc.ContentServiceServicer):
    pass


def registration() -> Registration:
    name = pb.DESCRIPTOR.services_by_name["ContentService"].full_name
    return (ContentServicer(), pb_grpc.add_ContentServiceServicer_to_server, name)
