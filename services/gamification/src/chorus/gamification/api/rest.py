"""REST entry points of the gamification service."""

from __future__ import annotations

from fastapi import APIRouter

from chorus.gamification.adapters.activity import Activity
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated


def router(activity: Activity) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["activity"], responses=PROBLEM_RESPONSES)

    @api.get("/me/activity", summary="Shares and engagement counted for the calling advocate")
    async def my_activity(principal: Authenticated) -> dict[str, int]:
        return await activity.of(principal.tenant, principal.subject)

    return api
