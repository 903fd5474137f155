"""Joining the programme voluntarily, leaving it, and asking for erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web.auth import signed_out
from chorus.hub.web.context import Page, signed_in

SignedIn = Annotated[Page, Depends(signed_in)]
Csrf = Annotated[str, Form(max_length=200)]


async def enrollment_of(page: Page) -> dict[str, object] | None:
    try:
        found: dict[str, object] = await page.get("content", "/v1/enrollment")
    except ApiProblem as problem:
        if problem.status == 404:
            return None
        raise
    return found


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/join", include_in_schema=False)
    async def join_page(page: SignedIn) -> Response:
        program = await page.get("content", "/v1/program")
        enrollment = await enrollment_of(page)
        return await page.render("join.html", program=program, enrollment=enrollment)

    @r.post("/join", include_in_schema=False)
    async def join(
        page: SignedIn,
        csrf: Csrf,
        policy_version: Annotated[int, Form(ge=1)],
        acknowledge: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        await page.check_csrf(csrf)
        if acknowledge != "yes":
            await page.flash("error", page.t("join.must_acknowledge"))
            return page.redirect("/join")
        body = {"policy_version": policy_version, "groups": list(page.session.identity.groups)}
        try:
            await page.call("PUT", "content", "/v1/enrollment", json=body)
        except ApiProblem as problem:
            if problem.unavailable:
                raise
            await page.flash("error", problem.detail or problem.title)
            return page.redirect("/join")
        await page.flash("success", page.t("join.welcome"))
        return page.redirect("/feed")

    @r.get("/leave", include_in_schema=False)
    async def leave_page(page: SignedIn) -> Response:
        return await page.render("leave.html")

    @r.post("/leave", include_in_schema=False)
    async def leave(
        page: SignedIn, csrf: Csrf, choice: Annotated[str, Form(max_length=10)]
    ) -> Response:
        await page.check_csrf(csrf)
        if choice == "erase":
            await page.call("POST", "content", f"/v1/advocates/{page.subject}/erasure")
            # Nothing naming them stays here either: every session of theirs ends.
            await page.hub.sessions.delete_for(page.session.identity.tenant, page.subject)
            return await signed_out(page, "/?erased=1")
        if choice == "leave":
            await page.call("DELETE", "content", "/v1/enrollment")
            await page.flash("success", page.t("leave.left"))
        return page.redirect("/join")

    return r
