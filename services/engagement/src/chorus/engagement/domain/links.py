"""Tracked links (pure): short unguessable codes and UTM-tagged targets."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 10  # 62^10 ≈ 8e17 codes: not guessable by enumeration


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def is_code(value: str) -> bool:
    return len(value) == CODE_LENGTH and all(char in ALPHABET for char in value)


def tracked_target(
    url: str, *, network: str, content_id: str, extras: Mapping[str, str] | None = None
) -> str:
    """The content link plus utm_source=network, utm_medium=advocacy,
    utm_campaign=content id and the tenant's extras; other parameters are kept."""
    parts = urlsplit(url)
    utm = {
        "utm_source": network,
        "utm_medium": "advocacy",
        "utm_campaign": content_id,
        **(extras or {}),
    }
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in utm]
    return urlunsplit(parts._replace(query=urlencode(kept + list(utm.items()))))
