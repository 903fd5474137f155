"""REST entry points of the content service."""

from __future__ import annotations

from chorus.content.adapters.shared_marks import SharedMarks
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated
from fastapi import APIRouter


def router(marks: SharedMarks) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["feed"], responses=PROBLEM_RESPONSES)

    @api.get("/me/shared", summary="Items the calling advocate already shared, with networks")
    async def my_shared_items(principal: Authenticated) -> dict[str, list[str]]:
        return await marks.shared_items(principal.tenant, principal.subject)

    return api
