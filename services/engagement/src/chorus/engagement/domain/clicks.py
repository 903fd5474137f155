"""Click quality (pure): link-preview crawlers, bots, HEAD requests and
prefetches are not clicks; visitors are identified by a salted hash, never by
their address."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

# Crawlers that fetch every shared link to build its preview, and common bots.
_BOT_PATTERN = re.compile(
    r"(linkedinbot|twitterbot|facebookexternalhit|facebookcatalog|slackbot|slack-imgproxy"
    r"|discordbot|telegrambot|whatsapp|skypeuripreview|microsoftpreview|embedly"
    r"|pinterest|redditbot|applebot|googlebot|bingbot|yandex|baiduspider|duckduckbot"
    r"|bot\b|crawler|spider|headless|python-requests|curl/|wget/|httpclient)",
    re.IGNORECASE,
)
_PREFETCH_HEADERS = (
    ("purpose", "prefetch"),
    ("sec-purpose", "prefetch"),
    ("x-moz", "prefetch"),
    ("x-purpose", "preview"),
)


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_BOT_PATTERN.search(user_agent))


def is_prefetch(headers: Mapping[str, str]) -> bool:
    return any(value in headers.get(name, "").lower() for name, value in _PREFETCH_HEADERS)


def counts_as_click(method: str, headers: Mapping[str, str]) -> bool:
    """A human following the link: a GET, not a prefetch, not a known bot."""
    if method.upper() != "GET":
        return False
    return not is_prefetch(headers) and not is_bot(headers.get("user-agent", ""))


def visitor_hash(salt: bytes, address: str, user_agent: str) -> str:
    """Who clicked, without keeping who they are: HMAC of address and user agent
    under a salt that rotates daily (so hashes cannot be joined across days)."""
    digest = hmac.new(salt, f"{address}\n{user_agent}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
