"""The programme's settings, for its admins: the policy (a changed text is a
new version every advocate acknowledges again), the disclosure, banned terms,
allowed domains, and the posting frequency as guidance or as a limit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from chorus.hub.web.context import Page, signed_in
from chorus.hub.web.curation import violations_by_field
from chorus.hub.web.forms import listed, posted

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]


def program_body(form: dict[str, str]) -> dict[str, Any]:
    return {
        "policy_text": form.get("policy_text", ""),
        "disclosure": form.get("disclosure", ""),
        "disclosure_auto_append": form.get("disclosure_auto_append") == "yes",
        "banned_terms": listed(form.get("banned_terms", "")),
        "allowed_domains": listed(form.get("allowed_domains", "")),
        "frequency": {
            "per_day": int(form.get("per_day") or 0),
            "per_week": int(form.get("per_week") or 0),
            "hard_limit": form.get("hard_limit") == "yes",
        },
    }


def program_form(program: dict[str, Any]) -> dict[str, str]:
    frequency = program.get("frequency", {})
    return {
        "policy_text": program.get("policy_text", ""),
        "disclosure": program.get("disclosure", ""),
        "disclosure_auto_append": "yes" if program.get("disclosure_auto_append") else "",
        "banned_terms": ", ".join(program.get("banned_terms", [])),
        "allowed_domains": ", ".join(program.get("allowed_domains", [])),
        "per_day": str(frequency.get("per_day", "")),
        "per_week": str(frequency.get("per_week", "")),
        "hard_limit": "yes" if frequency.get("hard_limit") else "",
        "version": str(program.get("version", "")),
    }


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/settings/programme", include_in_schema=False)
    async def programme(page: SignedIn) -> Response:
        found = await page.get("content", "/v1/program")
        return await page.render(
            "settings.html", form=program_form(found), errors={}, program=found
        )

    @r.post("/settings/programme", include_in_schema=False)
    async def save(page: SignedIn, request: Request, csrf: Csrf) -> Response:
        await page.check_csrf(csrf)
        form = await posted(request)
        saved, problem = await page.attempt(
            "PUT",
            "content",
            "/v1/program",
            json=program_body(form),
            headers={"If-Match": f'"{form.get("version", "")}"'},
        )
        if problem is not None:
            found = await page.get("content", "/v1/program")
            errors = violations_by_field(problem, [])
            return await page.render(
                "settings.html", 422, form=form, errors=errors, program=found, problem=problem
            )
        await page.flash("success", page.t("settings.saved", version=saved["policy_version"]))
        return page.redirect("/settings/programme")

    return r
