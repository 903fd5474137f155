"""Network names on the wire (protobuf enum) and in documents and URLs (lower case)."""

from __future__ import annotations

from chorus.contracts.common.v1 import common_pb2

NAMES = {
    "linkedin": common_pb2.NETWORK_LINKEDIN,
    "x": common_pb2.NETWORK_X,
    "facebook": common_pb2.NETWORK_FACEBOOK,
}
BY_NUMBER: dict[int, str] = {int(number): name for name, number in NAMES.items()}


def network_pb(name: str) -> common_pb2.Network.ValueType:
    return NAMES.get(name, common_pb2.NETWORK_UNSPECIFIED)


def network_name(number: int) -> str:
    return BY_NUMBER.get(int(number), "unspecified")
