"""Network names on the wire (protobuf enum) and in documents and URLs (lower case)."""

from __future__ import annotations

import re
from enum import StrEnum

from chorus.contracts.common.v1 import common_pb2


class Network(StrEnum):
    """The networks an advocate shares to; the value is the lower-case name."""

    LINKEDIN = "linkedin"
    X = "x"
    FACEBOOK = "facebook"


# How long a post may be, and how each network counts it: X counts every link
# as 23 characters (t.co wrapping), whatever its length. Content's compliance
# checks and the hub's live counts both count this way.
X_LINK_LENGTH = 23
MAX_LENGTH = {Network.X: 280, Network.LINKEDIN: 3000, Network.FACEBOOK: 63206}
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def commentary_length(network: Network, text: str) -> int:
    if network is Network.X:
        return len(_URL.sub("x" * X_LINK_LENGTH, text))
    return len(text)


NAMES = {
    Network.LINKEDIN.value: common_pb2.NETWORK_LINKEDIN,
    Network.X.value: common_pb2.NETWORK_X,
    Network.FACEBOOK.value: common_pb2.NETWORK_FACEBOOK,
}
BY_NUMBER: dict[int, str] = {int(number): name for name, number in NAMES.items()}


def network_pb(name: str) -> common_pb2.Network.ValueType:
    return NAMES.get(name, common_pb2.NETWORK_UNSPECIFIED)


def network_name(number: int) -> str:
    return BY_NUMBER.get(int(number), "unspecified")


def network_of(number: int) -> Network | None:
    """The network a protobuf enum value names; None for unspecified or unknown."""
    name = BY_NUMBER.get(int(number))
    return Network(name) if name else None
