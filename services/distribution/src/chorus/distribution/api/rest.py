"""REST entry points of distribution: translate, call one use case, translate back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from google.protobuf.json_format import MessageToDict

from chorus.distribution.app.catalog import Catalog
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated


def router(catalog: Catalog) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["content"], responses=PROBLEM_RESPONSES)

    @api.get("/content/{content_id}", summary="An approved item as distribution knows it")
    async def get_content(content_id: str, principal: Authenticated) -> dict[str, Any]:
        found = await catalog.sharable_content(principal, content_id)
        return {
            "content": MessageToDict(found.content, preserving_proto_field_name=True),
            "retracted": found.retracted,
        }

    return api
