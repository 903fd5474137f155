"""Composition root of the hub: the web front end. A backend-for-frontend: it
signs people in at the OpenID Connect provider, keeps their tokens in
server-side sessions and calls the services' public REST APIs with them."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from chorus.hub.adapters.api import ApiProblem, ChorusApi, ServiceUrls
from chorus.hub.adapters.oidc import OidcClient
from chorus.hub.adapters.sessions import SessionStore
from chorus.hub.web import (
    accounts,
    auth,
    curation,
    dashboard,
    i18n,
    joining,
    media,
    programme,
    rewards,
    rules,
    sharing,
    standing,
)
from chorus.hub.web.context import (
    CsrfRefused,
    Hub,
    HubConfig,
    SignInRequired,
    current_page,
    render,
    sign_in_location,
)
from chorus.hub.web.security import SecurityHeaders, origin_of
from chorus.kit.auth import TokenVerifier
from chorus.kit.crypto import DEV_TOKEN_KEYS, TokenCipher
from chorus.kit.health import Health, mongo_check
from chorus.kit.http import build_http_app
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import mongo_client
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import run_service
from chorus.kit.settings import Environment, ServiceSettings, UnsafeSettingsError
from chorus.kit.tracing import traced_http_client


class HubSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "hub"
    http_port: int = 8060
    # Where browsers reach the hub (the OIDC redirect and the CSRF origin check).
    public_base_url: str = "http://127.0.0.1:8060"
    oidc_issuer: str = "http://127.0.0.1:8180/realms/chorus"
    oidc_client_id: str = "chorus-hub"
    oidc_client_secret: str = ""  # empty: a public client (PKCE only)
    oidc_scopes: str = "openid profile email"
    # Where connecting an account sends the browser (the platforms' consent
    # pages): forms may lead there (CSP form-action). Locally, the simulator.
    platform_origins: str = "https://www.linkedin.com https://x.com"
    session_idle_seconds: float = Field(default=1800, gt=0)
    session_max_seconds: float = Field(default=12 * 3600, gt=0)
    # Keys sealing the provider's tokens in the session documents
    # ("kid:base64key,...", the first active); the development key is refused
    # in production.
    session_token_keys: str = DEV_TOKEN_KEYS
    content_url: str = "http://127.0.0.1:8010"
    distribution_url: str = "http://127.0.0.1:8020"
    engagement_url: str = "http://127.0.0.1:8030"
    gamification_url: str = "http://127.0.0.1:8040"
    insights_url: str = "http://127.0.0.1:8050"

    @model_validator(mode="after")
    def _refuse_local_addresses(self) -> HubSettings:
        """In production the hub is reached over HTTPS (its cookies are Secure)
        and signs people in at a provider served over HTTPS."""
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = [
            f"{name} must be an https:// URL"
            for name, url in (
                ("CHORUS_PUBLIC_BASE_URL", self.public_base_url),
                ("CHORUS_OIDC_ISSUER", self.oidc_issuer),
            )
            if not url.startswith("https://")
        ]
        if self.session_token_keys == DEV_TOKEN_KEYS:
            problems.append("set CHORUS_SESSION_TOKEN_KEYS (the development key is public)")
        if problems:
            raise UnsafeSettingsError("unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def secure_cookies(self) -> bool:
        """Secure outside development (a laptop's hub is plain HTTP on loopback)."""
        return self.environment is not Environment.DEVELOPMENT


def _templates() -> Jinja2Templates:
    folder = resources.files("chorus.hub.web").joinpath("templates")
    return Jinja2Templates(directory=str(folder))  # .html autoescaped


def _page_errors(app: FastAPI) -> None:
    """What a page shows when it cannot be served: sign in, a refused form,
    or a service that answered with a problem."""

    async def sign_in(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        return RedirectResponse(sign_in_location(error.return_to), status_code=303)

    async def csrf(request: Request, error: Exception) -> Response:
        language = i18n.from_accept_language(request.headers.get("accept-language"))
        refused = i18n.translate(language, "error.csrf")
        return render(request, "error.html", language, 403, problem=refused)

    async def api(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiProblem)
        page = await current_page(request)
        language = page.language if page else i18n.DEFAULT
        status = 503 if error.unavailable else error.status
        return render(
            request,
            "error.html",
            language,
            status,
            session=page.session if page else None,
            problem=error.detail or error.title,
        )

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(ApiProblem, api)


def build(settings: HubSettings) -> ServiceRuntime:
    metrics = Metrics()
    mongo = mongo_client(settings)
    health = Health(metrics)
    health.add("mongodb", mongo_check(mongo))
    sessions = SessionStore(
        mongo[settings.database_name],
        TokenCipher.from_setting(settings.session_token_keys),
        settings.session_idle_seconds,
        settings.session_max_seconds,
    )
    # The API calls are CLIENT spans under the page's request span.
    http = traced_http_client(timeout=10)
    hub = Hub(
        config=HubConfig(
            public_base_url=settings.public_base_url,
            secure_cookies=settings.secure_cookies,
            idle_seconds=settings.session_idle_seconds,
        ),
        oidc=OidcClient(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.oidc_scopes,
        ),
        sessions=sessions,
        api=ChorusApi(
            http,
            ServiceUrls(
                content=settings.content_url,
                distribution=settings.distribution_url,
                engagement=settings.engagement_url,
                gamification=settings.gamification_url,
                insights=settings.insights_url,
            ),
        ),
        templates=_templates(),
    )
    app = build_http_app(
        title="Chorus hub",
        description="The web front end: advocates join, read their feed and share.",
        metrics=metrics,
        health=health,
        verifier=TokenVerifier.from_settings(settings),
        routers=[
            auth.router(),
            joining.router(),
            sharing.router(),
            accounts.router(),
            standing.router(),
            curation.router(),
            dashboard.router(),
            programme.router(),
            rewards.router(),
            rules.router(),
            media.router(),
        ],
    )
    app.state.hub = hub
    static = resources.files("chorus.hub.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _page_errors(app)
    form_targets = [origin_of(settings.oidc_issuer), *settings.platform_origins.split()]
    app.add_middleware(SecurityHeaders, form_targets=form_targets)

    async def close_clients() -> None:
        await http.aclose()
        await mongo.close()

    return ServiceRuntime(
        name=settings.service_name,
        http_app=app,
        http_host=settings.http_host,
        http_port=settings.http_port,
        grpc=None,
        health=health,
        components=[
            Lifecycle(mongo.aconnect, close_clients),
            Lifecycle.on_start_only(sessions.ensure_indexes),
        ],
        grace_seconds=settings.shutdown_grace_seconds,
    )


def main() -> None:
    run_service(HubSettings, build)


if __name__ == "__main__":
    main()
