"""The paid-media rates earned media value is reckoned in, for admins: a
currency, and per network what 1,000 impressions, a click, a reaction, a
comment and a reshare would cost as paid media (insights' media rates)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.context import Page, signed_in
from chorus.hub.web.forms import by_field, decimal, posted

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]
NETWORKS = ("linkedin", "x", "facebook")
RATES = ("cpm", "cpc", "per_reaction", "per_comment", "per_reshare")


def media_form(rates: dict[str, Any]) -> dict[str, str]:
    networks = rates.get("networks", {})
    return {
        "currency": rates.get("currency", ""),
        **{f"{n}_{r}": f"{networks.get(n, {}).get(r, 0):g}" for n in NETWORKS for r in RATES},
    }


def media_body(form: dict[str, str]) -> dict[str, Any]:
    return {
        "currency": form.get("currency", "").strip().upper(),
        "networks": {
            n: {r: decimal(form.get(f"{n}_{r}", ""), empty=0.0) for r in RATES} for n in NETWORKS
        },
    }


def _field(path: list[str]) -> str:
    """networks.linkedin.cpm → linkedin_cpm; currency → currency."""
    if path[0] == "networks" and len(path) == 3:
        return f"{path[1]}_{path[2]}"
    return "currency" if path[0] == "currency" else "_"


def errors_of(problem: ApiProblem) -> dict[str, list[str]]:
    return by_field(problem, _field)


def router() -> APIRouter:
    r = APIRouter()

    async def show(
        page: Page,
        form: dict[str, str],
        status_code: int = 200,
        problem: ApiProblem | None = None,
    ) -> Response:
        errors = errors_of(problem) if problem else {}
        return await page.render(
            "media.html",
            status_code,
            form=form,
            errors=errors,
            networks=NETWORKS,
            rates=RATES,
            problem=problem,
        )

    @r.get("/settings/media", include_in_schema=False)
    async def media(page: SignedIn) -> Response:
        return await show(page, media_form(await page.get("insights", "/v1/insights/media-rates")))

    @r.post("/settings/media", include_in_schema=False)
    async def save(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        _, problem = await page.attempt(
            "PUT", "insights", "/v1/insights/media-rates", json=media_body(form)
        )
        if problem is not None:
            return await show(page, form, 422, problem)
        await page.flash("success", page.t("media.saved"))
        return page.redirect("/settings/media")

    return r
