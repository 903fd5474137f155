"""Bounded REST inputs every service shares: an id in a path or a query, a
page cursor, the If-Match and Idempotency-Key headers. A string a client
sends always has a maximum length (tests/test_api_contracts.py checks it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

ID_MAX_LENGTH = 200
CURSOR_MAX_LENGTH = 500

PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
QueryId = Annotated[str | None, Query(max_length=ID_MAX_LENGTH)]
Cursor = Annotated[
    str | None,
    Query(max_length=CURSOR_MAX_LENGTH, description="next_cursor of the previous page"),
]
IfMatch = Annotated[str | None, Header(max_length=100, description='the ETag you read, e.g. "3"')]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=ID_MAX_LENGTH, description="the same key for a retry of the same request"),
]
