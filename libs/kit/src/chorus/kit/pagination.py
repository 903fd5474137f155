"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from chorus.kit.errors import ErrorCode, ProblemError, Violation

MAX_PAGE = 100


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in position.items()},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, *, dates: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """The position a cursor stands for; 400 with a clear reason when it is not
    ours (not base64 JSON, or a `dates` or `required` field missing)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        if not isinstance(position, dict):
            raise ValueError("not an object")
        for name in dates:
            position[name] = datetime.fromisoformat(position[name])
        missing = [name for name in required if name not in position]
        if missing:
            raise KeyError(missing[0])
        return position
    except (ValueError, KeyError, TypeError) as exc:
        raise ProblemError(
            ErrorCode.INVALID_REQUEST,
            "the cursor is not valid",
            [Violation("cursor", "pass back the next_cursor of a previous page")],
        ) from exc


# The order of a newest-first page: created_at descending, ties by id.
NEWEST_FIRST = [("created_at", -1), ("_id", 1)]


def after_in_newest_first(position: dict[str, Any]) -> dict[str, Any]:
    """The MongoDB filter for what follows `position` (the created_at and id
    of a page's last document) in NEWEST_FIRST order."""
    return {
        "$or": [
            {"created_at": {"$lt": position["created_at"]}},
            {"created_at": position["created_at"], "_id": {"$gt": position["id"]}},
        ]
    }
