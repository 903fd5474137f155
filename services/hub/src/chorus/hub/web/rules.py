"""Points and badges, for the programme's admins: the points each action
earns on any network and on each network of its own, the daily caps, what
the badges ask for, and campaigns (a factor on the points of some items or
tags for a while). A save is a new version of the rules that scores events
from then on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, Response

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.context import Page, signed_in
from chorus.hub.web.curation import violations_by_field
from chorus.hub.web.forms import by_field, decimal, listed, local, moment, posted

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
Version = Annotated[int, Form(ge=0)]
ACTIONS = ("share", "click", "unique_click", "reaction", "comment", "reshare")
CAPPED = ("click", "unique_click")
BADGES = ("streak_weeks", "conversation_comments", "top_n")
ANY_NETWORK = "default"
# Points on any network first; an empty field for a network means "as on any".
NETWORKS = (ANY_NETWORK, "linkedin", "x", "facebook")
CAMPAIGN_FIELDS = ("name", "factor", "starts_at", "ends_at", "tags", "content_ids")


def _number(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return -1  # the API refuses it, beside its field


def points_of(current: dict[str, Any], form: dict[str, str]) -> dict[str, dict[str, int]]:
    """Each action's points on any network and on the networks the form sets;
    a network the hub does not show keeps what the API holds."""
    points = {}
    for action in ACTIONS:
        table = {
            name: value
            for name, value in current.get("points", {}).get(action, {}).items()
            if name not in NETWORKS
        }
        for network in NETWORKS:
            text = form.get(f"points_{action}_{network}", "").strip()
            if text or network == ANY_NETWORK:
                table[network] = _number(text)
        points[action] = table
    return points


def edited(current: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The current rules with the form's points, caps and badge thresholds."""
    caps = dict(current.get("daily_caps", {}))
    caps.update({action: _number(form.get(f"cap_{action}")) for action in CAPPED})
    return {
        "points": points_of(current, form),
        "daily_caps": caps,
        "multipliers": current.get("multipliers", []),
        "badges": {name: _number(form.get(name)) for name in BADGES},
    }


def campaign_of(form: dict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("name", "").strip(),
        "factor": decimal(form.get("factor", "")),
        "starts_at": moment(form.get("starts_at", "")),
        "ends_at": moment(form.get("ends_at", "")),
        "tags": listed(form.get("tags", "")),
        "content_ids": listed(form.get("content_ids", "")),
    }


def with_campaigns(current: dict[str, Any], campaigns: list[dict[str, Any]]) -> dict[str, Any]:
    kept = ("points", "daily_caps", "badges")
    return {**{name: current[name] for name in kept}, "multipliers": campaigns}


def rules_form(rules: dict[str, Any]) -> dict[str, str]:
    points = rules.get("points", {})
    return {
        **{
            f"points_{a}_{n}": str(points.get(a, {}).get(n, "" if n != ANY_NETWORK else 0))
            for a in ACTIONS
            for n in NETWORKS
        },
        **{f"cap_{a}": str(rules.get("daily_caps", {}).get(a, "")) for a in CAPPED},
        **{name: str(rules.get("badges", {}).get(name, "")) for name in BADGES},
    }


def campaigns_shown(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**c, "starts_at": local(c["starts_at"]), "ends_at": local(c["ends_at"])}
        for c in rules.get("multipliers", [])
    ]


def _campaign_field(path: list[str]) -> str:
    """multipliers.<n>.factor → factor; a whole campaign's refusal → "_"."""
    name = path[2] if len(path) > 2 and path[0] == "multipliers" else "_"
    return name if name in CAMPAIGN_FIELDS else "_"


def campaign_errors(problem: ApiProblem) -> dict[str, list[str]]:
    return by_field(problem, _campaign_field)


def router() -> APIRouter:
    r = APIRouter()

    async def show(
        page: Page,
        current: dict[str, Any],
        status_code: int = 200,
        form: dict[str, str] | None = None,
        errors: dict[str, list[str]] | None = None,
        campaign: dict[str, str] | None = None,
        campaign_errors: dict[str, list[str]] | None = None,
        problem: ApiProblem | None = None,
    ) -> Response:
        return await page.render(
            "rules.html",
            status_code,
            form=form or rules_form(current),
            errors=errors or {},
            campaign=campaign or {"factor": "2"},
            campaign_errors=campaign_errors or {},
            campaigns=campaigns_shown(current),
            rules=current,
            actions=ACTIONS,
            networks=NETWORKS,
            problem=problem,
        )

    async def save_rules(page: Page, rules: dict[str, Any]) -> tuple[Any, ApiProblem | None]:
        return await page.attempt("PUT", "gamification", "/v1/rules", json=rules)

    async def saved(page: Page, version: int) -> Response:
        await page.flash("success", page.t("rules.saved", version=version))
        return page.redirect("/settings/rules")

    @r.get("/settings/rules", include_in_schema=False)
    async def rules(page: SignedIn) -> Response:
        return await show(page, await page.get("gamification", "/v1/rules"))

    @r.post("/settings/rules", include_in_schema=False)
    async def save(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        current = await page.get("gamification", "/v1/rules")
        done, problem = await save_rules(page, edited(current, form))
        if problem is not None:
            errors = violations_by_field(problem, [])
            return await show(page, current, 422, form=form, errors=errors, problem=problem)
        return await saved(page, done["version"])

    @r.post("/settings/rules/campaigns", include_in_schema=False)
    async def add_campaign(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        current = await page.get("gamification", "/v1/rules")
        campaigns = [*current.get("multipliers", []), campaign_of(form)]
        done, problem = await save_rules(page, with_campaigns(current, campaigns))
        if problem is not None:
            errors = campaign_errors(problem)
            return await show(
                page, current, 422, campaign=form, campaign_errors=errors, problem=problem
            )
        return await saved(page, done["version"])

    @r.post("/settings/rules/campaigns/{index}/remove", include_in_schema=False)
    async def remove_campaign(
        page: SignedIn, csrf: Csrf, version: Version, index: Annotated[int, Path(ge=0, le=99)]
    ) -> Response:
        await page.check_csrf(csrf)
        current = await page.get("gamification", "/v1/rules")
        campaigns = list(current.get("multipliers", []))
        if current["version"] != version or index >= len(campaigns):
            # Someone saved the rules since this page was read: the index may
            # name another campaign now.
            await page.flash("error", page.t("rules.changed"))
            return page.redirect("/settings/rules")
        del campaigns[index]
        done, problem = await save_rules(page, with_campaigns(current, campaigns))
        if problem is not None:
            return await show(page, current, 422, problem=problem)
        return await saved(page, done["version"])

    return r
