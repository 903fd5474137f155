"""REST entry points of the engagement service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from chorus.engagement.adapters.store import Link
from chorus.engagement.app.engagement import EngagementApp
from chorus.kit.fields import ID_MAX_LENGTH, PathId
from chorus.kit.http import PROBLEM_RESPONSES, PUBLIC_PROBLEM_RESPONSES, Authenticated, links_to
from chorus.kit.networks import Network
from chorus.kit.pagination import MAX_PAGE
from chorus.kit.ratelimit import PublicLimits, client_address

NOT_FOUND_PAGE = "<!doctype html><title>Link not found</title><h1>This link does not exist.</h1>"
WITHDRAWN_PAGE = (
    "<!doctype html><title>No longer available</title><h1>This content is no longer available.</h1>"
)
FOLLOW_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {"description": "To the tracked link's target (Location)"},
    404: {"description": "No such link: a page", "content": {"text/html": {}}},
    410: {"description": "The content was withdrawn: a page", "content": {"text/html": {}}},
}
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class LinkIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "share_id": "s-42",
                    "network": "linkedin",
                    "content_id": "c-7",
                    "advocate": "bob",
                    "url": "https://acme.example/news/plant",
                }
            ]
        }
    }
    share_id: str = Field(min_length=1, max_length=200)
    network: Network
    content_id: str = Field(min_length=1, max_length=200)
    advocate: str = Field("", max_length=200, description="services only; advocates: themselves")
    url: str = Field(min_length=1, max_length=2000)


class LinkOut(BaseModel):
    code: str
    short_url: str
    target_url: str
    share_id: str
    network: str


class SecretIn(BaseModel):
    secret: str = Field(min_length=32, max_length=200)


# Not PathId: an empty or unknown code gets the public "not found" page.
ShareIdQuery = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH)]
LinkCode = Annotated[str, Path(max_length=ID_MAX_LENGTH)]
UtmName = Annotated[str, Field(min_length=1, max_length=40)]
UtmValue = Annotated[str, Field(max_length=200)]


class UtmIn(BaseModel):
    extras: dict[UtmName, UtmValue] = Field(default_factory=dict, max_length=10)


class WebhookAccepted(BaseModel):
    recorded: bool = Field(description="false: this event id was already recorded")


def link_out(app: EngagementApp, link: Link) -> LinkOut:
    return LinkOut(
        code=link.code,
        short_url=app.short_url(link.code),
        target_url=link.target,
        share_id=link.share_id,
        network=link.network,
    )


def router(app: EngagementApp, limits: PublicLimits) -> APIRouter:
    api = APIRouter(responses=PROBLEM_RESPONSES)
    redirect_limit = [Depends(limits.dependency("redirect"))]

    async def follow(
        code: Annotated[str, Path(max_length=ID_MAX_LENGTH)], request: Request
    ) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        client = client_address(request, limits.trusted_proxy_hops)
        outcome = await app.redirect(code, request.method, headers, client)
        if outcome.target is not None:
            return RedirectResponse(outcome.target, status_code=302, headers=NO_STORE)
        if outcome.outcome == "retracted":
            return HTMLResponse(WITHDRAWN_PAGE, status_code=410, headers=NO_STORE)
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=NO_STORE)

    # GET and HEAD as two operations: one OpenAPI operation id each.
    for method, operation_id in (("GET", "follow_link"), ("HEAD", "follow_link_head")):
        api.add_api_route(
            "/r/{code}",
            follow,
            methods=[method],
            operation_id=operation_id,
            tags=["redirect"],
            summary="Follow a tracked link (302); counts human clicks",
            response_model=None,
            response_class=RedirectResponse,  # a 302 has no body to document
            status_code=302,
            dependencies=redirect_limit,
            responses={**PUBLIC_PROBLEM_RESPONSES, **FOLLOW_RESPONSES},
        )

    @api.post(
        "/v1/links",
        status_code=201,
        tags=["links"],
        responses=links_to(
            201,
            {
                "follow_link": {"code": "$response.body#/code"},
                "follow_link_head": {"code": "$response.body#/code"},
                "share_engagement_v1_shares__share_id__engagement_get": {
                    "share_id": "$response.body#/share_id"
                },
            },
        ),
    )
    async def create_link(body: LinkIn, principal: Authenticated) -> LinkOut:
        link = await app.create_link(
            principal,
            share_id=body.share_id,
            network=body.network,
            content_id=body.content_id,
            advocate=body.advocate,
            url=body.url,
        )
        return link_out(app, link)

    @api.get("/v1/shares/{share_id}/engagement", tags=["queries"])
    async def share_engagement(share_id: PathId, principal: Authenticated) -> dict[str, int]:
        return await app.totals(principal, "share", share_id)

    @api.get(
        "/v1/engagement/shares",
        tags=["queries"],
        summary="Many shares' totals at once (repeat share_id, up to 100)",
    )
    async def shares_engagement(
        principal: Authenticated,
        share_id: Annotated[list[ShareIdQuery], Query(max_length=MAX_PAGE)],
    ) -> dict[str, dict[str, int]]:
        return await app.share_totals(principal, share_id)

    @api.get("/v1/content/{content_id}/engagement", tags=["queries"])
    async def content_engagement(content_id: PathId, principal: Authenticated) -> dict[str, int]:
        return await app.totals(principal, "content", content_id)

    @api.get("/v1/advocates/{advocate}/engagement", tags=["queries"])
    async def advocate_engagement(advocate: PathId, principal: Authenticated) -> dict[str, int]:
        return await app.totals(principal, "advocate", advocate)

    @api.put(
        "/v1/settings/webhook-secret",
        status_code=204,
        tags=["settings"],
        summary="Set the tenant's webhook signing secret (admin)",
    )
    async def webhook_secret(body: SecretIn, principal: Authenticated) -> Response:
        await app.set_webhook_secret(principal, body.secret)
        return Response(status_code=204)

    @api.put(
        "/v1/settings/utm",
        status_code=204,
        tags=["settings"],
        summary="Extra UTM parameters for the tenant's tracked links (admin)",
    )
    async def utm(body: UtmIn, principal: Authenticated) -> Response:
        await app.set_utm_extras(principal, body.extras)
        return Response(status_code=204)

    @api.post(
        "/v1/webhooks/{tenant}/engagement",
        status_code=202,
        tags=["webhooks"],
        dependencies=[Depends(limits.dependency("webhook"))],
        responses=PUBLIC_PROBLEM_RESPONSES,
        summary="Report engagement, signed: X-Chorus-Signature = sha256=HMAC(secret, "
        "'<X-Chorus-Timestamp>.<body>')",
    )
    async def webhook(
        tenant: PathId,
        request: Request,
        x_chorus_timestamp: Annotated[str | None, Header(max_length=20)] = None,
        x_chorus_signature: Annotated[str | None, Header(max_length=100)] = None,
    ) -> WebhookAccepted:
        body = await request.body()
        recorded = await app.webhook(tenant, x_chorus_timestamp, x_chorus_signature, body)
        return WebhookAccepted(recorded=recorded)

    return api
