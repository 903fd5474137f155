"""What is left of a commentary as each network counts it (the kit's
commentary_length: X counts every link as 23 characters). The browser's live
count (static/hub.js) mirrors this; this one renders the first figure."""

from __future__ import annotations

from chorus.kit.networks import MAX_LENGTH, X_LINK_LENGTH, Network, commentary_length

LIMITS = {network.value: limit for network, limit in MAX_LENGTH.items()}


def remaining(network: str, text: str, *, with_link: bool = True) -> int:
    """Characters left for the commentary; on X the tracked link the post
    carries takes its 23 (and a space) too."""
    counted = Network(network)
    used = commentary_length(counted, text)
    if counted is Network.X and with_link:
        used += X_LINK_LENGTH + 1
    return MAX_LENGTH[counted] - used
