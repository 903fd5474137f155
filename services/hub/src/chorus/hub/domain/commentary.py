"""How long a commentary is as each network counts it, and how long it may be.

X counts every link as 23 characters, whatever its length (it wraps links in
t.co); LinkedIn and Facebook count characters. The browser's live count
(static/hub.js) mirrors this; this one renders the first figure and is tested.
"""

from __future__ import annotations

import re

LINK = re.compile(r"https?://\S+")
X_LINK_LENGTH = 23
LIMITS = {"linkedin": 3000, "x": 280, "facebook": 63206}


def counted_length(network: str, text: str) -> int:
    if network != "x":
        return len(text)
    links = LINK.findall(text)
    return len(LINK.sub("", text)) + X_LINK_LENGTH * len(links)


def remaining(network: str, text: str, *, with_link: bool = True) -> int:
    """Characters left for the commentary; on X the tracked link the post
    carries takes its 23 (and a space) too."""
    used = counted_length(network, text)
    if network == "x" and with_link:
        used += X_LINK_LENGTH + 1
    return LIMITS.get(network, 3000) - used
