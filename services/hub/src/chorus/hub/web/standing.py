"""The advocate's points, badges and rank, and the leaderboards (the
programme's, or their team's), for a week, a month, a quarter or all time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
PERIODS = ("week", "month", "quarter", "all")
Period = Annotated[str, Query(pattern="^(week|month|quarter|all)$")]


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/standing", include_in_schema=False)
    async def standing(page: SignedIn, period: Period = "week", team: bool = False) -> Response:
        groups = page.session.identity.groups
        group = groups[0] if team and groups else None
        mine, board = await page.get_all(
            ("gamification", "/v1/me/standing", {"period_kind": period}),
            ("gamification", f"/v1/leaderboards/{period}", {"group": group, "limit": 20}),
        )
        return await page.render(
            "standing.html",
            mine=mine,
            board=board,
            period=period,
            periods=PERIODS,
            team=group,
            teams=bool(groups),
        )

    return r
