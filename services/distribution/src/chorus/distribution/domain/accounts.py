"""Connected accounts (pure): health over time and PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum


class Health(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"


def health(expires_at: datetime, revoked: bool, now: datetime, warn_days: int) -> Health:
    if revoked:
        return Health.REVOKED
    if expires_at <= now:
        return Health.EXPIRED
    if expires_at - now <= timedelta(days=warn_days):
        return Health.EXPIRING
    return Health.ACTIVE


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 describes."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")
