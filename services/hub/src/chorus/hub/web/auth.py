"""Sign-in, sign-out and the language choice."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from chorus.hub.adapters.oidc import SignInFailed
from chorus.hub.adapters.sessions import SIGN_IN_SECONDS, PendingSignIn
from chorus.hub.web import i18n
from chorus.hub.web.context import Page, current_page, hub_of, render, signed_in
from chorus.hub.web.security import SESSION_COOKIE, SIGN_IN_COOKIE

CALLBACK = "/auth/callback"


def safe_return_path(value: str | None) -> str:
    """Only a path of this site: never an open redirect to another one."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def signed_out(page: Page, back_to: str) -> Response:
    """The session ended here, then at the provider, which sends the browser
    back to the hub's `back_to`."""
    await page.hub.sessions.delete(page.secret)
    location = await page.hub.oidc.sign_out_url(page.session.tokens.id_token, page.hub.url(back_to))
    response = RedirectResponse(location, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/signin", include_in_schema=False)
    async def sign_in(
        request: Request, next: str | None = Query(None, max_length=2000)
    ) -> Response:
        hub = hub_of(request)
        language = i18n.from_accept_language(request.headers.get("accept-language"))
        try:
            authorization = await hub.oidc.authorization(hub.url(CALLBACK), language)
        except SignInFailed as error:
            return render(request, "error.html", language, 503, problem=str(error))
        pending = PendingSignIn(
            authorization.state,
            authorization.nonce,
            authorization.code_verifier,
            safe_return_path(next),
        )
        secret = await hub.sessions.begin_sign_in(pending)
        response = RedirectResponse(authorization.url, status_code=303)
        response.set_cookie(
            SIGN_IN_COOKIE,
            secret,
            max_age=SIGN_IN_SECONDS,
            httponly=True,
            samesite="lax",
            secure=hub.config.secure_cookies,
            path=CALLBACK,
        )
        return response

    @r.get(CALLBACK, include_in_schema=False)
    async def callback(
        request: Request,
        code: str | None = Query(None, max_length=4000),
        state: str | None = Query(None, max_length=500),
        error: str | None = Query(None, max_length=200),
    ) -> Response:
        hub = hub_of(request)
        language = i18n.from_accept_language(request.headers.get("accept-language"))
        secret = request.cookies.get(SIGN_IN_COOKIE, "")
        pending = await hub.sessions.take_sign_in(secret) if secret else None
        if error or pending is None or not code or state != pending.state:
            # Cancelled at the provider, replayed, or begun in another browser.
            return render(request, "signin_failed.html", language, 400)
        try:
            tokens = await hub.oidc.exchange(hub.url(CALLBACK), code, pending.code_verifier)
            identity = await hub.oidc.identity(tokens, pending.nonce)
        except SignInFailed:
            return render(request, "signin_failed.html", language, 400)
        session_secret, _ = await hub.sessions.create(
            identity, tokens, i18n.supported(identity.locale) or ""
        )
        response = RedirectResponse(pending.return_to, status_code=303)
        response.delete_cookie(SIGN_IN_COOKIE, path=CALLBACK)
        response.set_cookie(
            SESSION_COOKIE,
            session_secret,
            httponly=True,
            samesite="lax",
            secure=hub.config.secure_cookies,
            # No max-age: the browser keeps it until it closes; the server
            # ends the session when idle or too old (sessions.py).
        )
        return response

    @r.post("/signout", include_in_schema=False)
    async def sign_out(
        page: Annotated[Page, Depends(signed_in)], csrf: Annotated[str, Form(max_length=200)]
    ) -> Response:
        await page.check_csrf(csrf)
        return await signed_out(page, "/")

    @r.post("/language", include_in_schema=False)
    async def choose_language(
        page: Annotated[Page, Depends(signed_in)],
        csrf: Annotated[str, Form(max_length=200)],
        language: Annotated[str, Form(max_length=10)],
        back: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        await page.check_csrf(csrf)
        chosen = i18n.supported(language)
        if chosen:
            page.session = replace(page.session, locale=chosen)
            await page.hub.sessions.save(page.secret, page.session)
        return page.redirect(safe_return_path(back))

    @r.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        page = await current_page(request)
        if page is not None:
            return page.redirect("/feed")
        language = i18n.from_accept_language(request.headers.get("accept-language"))
        erased = request.query_params.get("erased") == "1"
        return render(request, "welcome.html", language, erased=erased)

    return r
