"""Points and badges, for the programme's admins: the points each action
earns on any network, the daily caps, and what the badges ask for. A save is
a new version of the rules that scores events from then on; per-network
points and campaigns set through the API are kept as they are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from chorus.hub.web.context import Page, signed_in
from chorus.hub.web.curation import violations_by_field

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
ACTIONS = ("share", "click", "unique_click", "reaction", "comment", "reshare")
CAPPED = ("click", "unique_click")
BADGES = ("streak_weeks", "conversation_comments", "top_n")
ANY_NETWORK = "default"


def _number(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return -1  # the API refuses it, beside its field


def edited(current: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The current rules with the form's points, caps and badge thresholds."""
    points = {action: dict(current.get("points", {}).get(action, {})) for action in ACTIONS}
    for action in ACTIONS:
        points[action][ANY_NETWORK] = _number(form.get(f"points_{action}"))
    caps = dict(current.get("daily_caps", {}))
    caps.update({action: _number(form.get(f"cap_{action}")) for action in CAPPED})
    return {
        "points": points,
        "daily_caps": caps,
        "multipliers": current.get("multipliers", []),
        "badges": {name: _number(form.get(name)) for name in BADGES},
    }


def rules_form(rules: dict[str, Any]) -> dict[str, str]:
    points = rules.get("points", {})
    return {
        **{f"points_{a}": str(points.get(a, {}).get(ANY_NETWORK, 0)) for a in ACTIONS},
        **{f"cap_{a}": str(rules.get("daily_caps", {}).get(a, "")) for a in CAPPED},
        **{name: str(rules.get("badges", {}).get(name, "")) for name in BADGES},
    }


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/settings/rules", include_in_schema=False)
    async def rules(page: SignedIn) -> Response:
        current = await page.get("gamification", "/v1/rules")
        return await page.render(
            "rules.html", form=rules_form(current), errors={}, rules=current, actions=ACTIONS
        )

    @r.post("/settings/rules", include_in_schema=False)
    async def save(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        current = await page.get("gamification", "/v1/rules")
        saved, problem = await page.attempt(
            "PUT", "gamification", "/v1/rules", json=edited(current, form)
        )
        if problem is not None:
            errors = violations_by_field(problem, [])
            return await page.render(
                "rules.html",
                422,
                form=form,
                errors=errors,
                rules=current,
                actions=ACTIONS,
                problem=problem,
            )
        await page.flash("success", page.t("rules.saved", version=saved["version"]))
        return page.redirect("/settings/rules")

    return r
