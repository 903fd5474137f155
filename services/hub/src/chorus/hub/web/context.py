"""What a page handler works with: the signed-in person's session (found by
its cookie, refreshed silently before its access token expires), the services'
APIs called with their token, flash messages, and rendering in their language."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from chorus.hub.adapters.api import ApiProblem, ChorusApi, Json
from chorus.hub.adapters.oidc import OidcClient, SignInFailed
from chorus.hub.adapters.sessions import Session, SessionStore
from chorus.hub.web import i18n
from chorus.hub.web.security import SESSION_COOKIE, csrf_ok, origin_of

# Refresh a little before the access token expires, so that a call made with
# it does not arrive a moment too late.
REFRESH_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class HubConfig:
    public_base_url: str
    secure_cookies: bool
    idle_seconds: float


@dataclass
class Hub:
    config: HubConfig
    oidc: OidcClient
    sessions: SessionStore
    api: ChorusApi
    templates: Jinja2Templates

    def url(self, path: str) -> str:
        return self.config.public_base_url.rstrip("/") + path


class SignInRequired(Exception):
    """No live session: the browser is sent to sign in, and then back."""

    def __init__(self, return_to: str) -> None:
        super().__init__(return_to)
        self.return_to = return_to


class CsrfRefused(Exception):
    pass


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@dataclass
class Page:
    request: Request
    hub: Hub
    secret: str
    session: Session

    @property
    def subject(self) -> str:
        return self.session.identity.subject

    @property
    def language(self) -> str:
        return self.session.locale or i18n.from_accept_language(
            self.request.headers.get("accept-language")
        )

    def has_role(self, *roles: str) -> bool:
        return any(role in self.session.identity.roles for role in roles)

    async def token(self) -> str:
        tokens = self.session.tokens
        if tokens.access_expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return tokens.access_token
        try:
            fresh = await self.hub.oidc.refresh(tokens)
        except SignInFailed as error:
            await self.hub.sessions.delete(self.secret)
            raise SignInRequired(self.request.url.path) from error
        self.session = replace(self.session, tokens=fresh)
        await self.hub.sessions.save(self.secret, self.session)
        return fresh.access_token

    async def call(self, method: str, service: str, path: str, **options: Any) -> Json:
        return await self.hub.api.call(method, service, path, await self.token(), **options)

    async def attempt(
        self, method: str, service: str, path: str, **options: Any
    ) -> tuple[Json, ApiProblem | None]:
        """A call whose refusal the person can act on (bad input, a conflict)
        comes back to be shown; an outage or a lapsed sign-in still raises."""
        try:
            return await self.call(method, service, path, **options), None
        except ApiProblem as problem:
            if problem.unavailable or problem.unauthenticated:
                raise
            return None, problem

    async def get(self, service: str, path: str, **params: Any) -> Json:
        return await self.hub.api.get(service, path, await self.token(), **params)

    async def get_all(self, *reads: tuple[str, str, dict[str, Any]]) -> list[Json]:
        """Independent reads (service, path, query) at once. The token is made
        fresh first, so a lapsed one is refreshed once, not once per read."""
        token = await self.token()
        return list(
            await asyncio.gather(
                *(self.hub.api.get(service, path, token, **query) for service, path, query in reads)
            )
        )

    async def flash(self, kind: str, message: str) -> None:
        self.session = replace(
            self.session, flash=[*self.session.flash, {"kind": kind, "message": message}]
        )
        await self.hub.sessions.save(self.secret, self.session)

    def t(self, key: str, **values: object) -> str:
        return i18n.translate(self.language, key, **values)

    async def check_csrf(self, sent: str | None) -> None:
        own = origin_of(self.hub.config.public_base_url)
        if not csrf_ok(self.session.csrf, sent, self.request.headers.get("origin"), own):
            raise CsrfRefused()

    async def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        flash = self.session.flash
        if flash:
            self.session = replace(self.session, flash=[])
            await self.hub.sessions.save(self.secret, self.session)
        return render(
            self.request,
            template,
            self.language,
            status_code=status_code,
            session=self.session,
            flashes=flash,
            **context,
        )

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)


def render(
    request: Request,
    template: str,
    language: str,
    status_code: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    hub = hub_of(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(language, key, **values)

    return hub.templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": language,
            "languages": i18n.LANGUAGES,
            "session": session,
            "csrf": session.csrf if session else "",
            "roles": session.identity.roles if session else (),
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


async def current_page(request: Request) -> Page | None:
    hub = hub_of(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    session = await hub.sessions.find(secret)
    return Page(request, hub, secret, session) if session else None


async def signed_in(request: Request) -> Page:
    """A page handler's dependency: the signed-in person, or off to sign in."""
    page = await current_page(request)
    if page is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    return page


def sign_in_location(return_to: str) -> str:
    return f"/signin?next={quote(return_to, safe='')}"
