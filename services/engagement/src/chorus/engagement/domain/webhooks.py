"""Signed webhooks (pure): HMAC-SHA256 over "<timestamp>.<body>" with the
tenant's secret, within a replay window."""

from __future__ import annotations

import hashlib
import hmac

REPLAY_WINDOW_SECONDS = 300


class BadSignature(Exception):
    """The request is not from someone holding the tenant's secret, or is stale."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: float,
    window: int = REPLAY_WINDOW_SECONDS,
) -> None:
    if not timestamp or not signature:
        raise BadSignature("send X-Chorus-Timestamp and X-Chorus-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise BadSignature("X-Chorus-Timestamp must be Unix seconds") from exc
    if abs(now - sent_at) > window:
        raise BadSignature(f"the timestamp is outside the {window} s replay window")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise BadSignature("the signature does not match")
