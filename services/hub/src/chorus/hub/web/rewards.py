"""The rewards catalogue: an advocate's balance, what they can redeem, and
their redemptions; admins add rewards and their stock."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Response

from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
RewardId = Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/rewards", include_in_schema=False)
    async def rewards(page: SignedIn) -> Response:
        catalogue = await page.get("gamification", "/v1/rewards")
        advocate = page.has_role("advocate")
        standing = await page.get("gamification", "/v1/me/standing") if advocate else None
        mine = await page.get("gamification", "/v1/me/redemptions") if advocate else []
        names = {reward["id"]: reward["name"] for reward in catalogue}
        return await page.render(
            "rewards.html",
            catalogue=catalogue,
            standing=standing,
            redemptions=[{**r, "name": names.get(r["reward_id"], r["reward_id"])} for r in mine],
            # One redemption per rendered button, however often it is pressed.
            keys={reward["id"]: secrets.token_urlsafe(16) for reward in catalogue},
        )

    @r.post("/rewards/{reward_id}/redeem", include_in_schema=False)
    async def redeem(
        page: SignedIn, csrf: Csrf, reward_id: RewardId, key: Annotated[str, Form(max_length=100)]
    ) -> Response:
        await page.check_csrf(csrf)
        path = f"/v1/rewards/{reward_id}/redemptions"
        _, problem = await page.attempt(
            "POST", "gamification", path, headers={"Idempotency-Key": key}
        )
        if problem is not None:
            await page.flash("error", page.t("rewards.refused", reason=problem.detail))
        else:
            await page.flash("success", page.t("rewards.redeemed"))
        return page.redirect("/rewards")

    @r.post("/rewards", include_in_schema=False)
    async def add(
        page: SignedIn,
        csrf: Csrf,
        name: Annotated[str, Form(max_length=200)],
        cost: Annotated[int, Form(ge=1)],
        stock: Annotated[int, Form(ge=0)],
        description: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        await page.check_csrf(csrf)
        body = {"name": name, "description": description, "cost": cost, "stock": stock}
        _, problem = await page.attempt("POST", "gamification", "/v1/rewards", json=body)
        if problem is not None:
            await page.flash("error", page.t("rewards.refused", reason=problem.detail))
        else:
            await page.flash("success", page.t("rewards.added", name=name))
        return page.redirect("/rewards")

    return r
