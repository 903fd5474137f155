"""REST entry points of the engagement service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chorus.engagement.adapters.poll_targets import PollTargets
from chorus.kit.errors import not_found
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated


def router(targets: PollTargets) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["engagement"], responses=PROBLEM_RESPONSES)

    @api.get("/shares/{share_id}/polling", summary="Metric polling planned for a share")
    async def share_polling(share_id: str, principal: Authenticated) -> list[dict[str, Any]]:
        found = await targets.for_share(principal.tenant, share_id)
        if not found:
            raise not_found(f"share {share_id!r}")
        return found

    return api
