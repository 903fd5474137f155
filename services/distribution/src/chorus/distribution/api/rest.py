"""REST entry points of distribution: translate, call one use case, translate back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field

from chorus.distribution.app.accounts import Accounts, AccountView
from chorus.distribution.app.catalog import Catalog
from chorus.distribution.app.requests import ShareRequests, ShareTarget
from chorus.distribution.app.share_history import ShareHistory, SharePage
from chorus.distribution.domain.model import Mode, NetworkShare, Share
from chorus.kit.fields import Cursor, IdempotencyKey, PathId
from chorus.kit.http import PROBLEM_RESPONSES, PUBLIC_PROBLEM_RESPONSES, Authenticated, links_to
from chorus.kit.networks import Network
from chorus.kit.ratelimit import PublicLimits
from chorus.kit.topics import advocate_key


class ConnectIn(BaseModel):
    redirect_uri: str = Field(min_length=1, max_length=2000)


class ConnectOut(BaseModel):
    authorization_url: str
    state: str


class CallbackIn(BaseModel):
    code: str = Field(min_length=1, max_length=2000)
    state: str = Field(min_length=1, max_length=200)


class AccountOut(BaseModel):
    network: str
    member_id: str
    health: str = Field(description="active, expiring, expired or revoked")
    expires_at: datetime
    refreshable: bool

    @classmethod
    def of(cls, view: AccountView) -> AccountOut:
        return cls(
            network=view.network,
            member_id=view.member_id,
            health=view.health.value,
            expires_at=view.expires_at,
            refreshable=view.refreshable,
        )


class TargetIn(BaseModel):
    network: Network
    commentary: str | None = Field(
        None, max_length=3000, description="empty: the item's suggested commentary"
    )


class ShareIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "content_id": "5f0c...",
                    "targets": [{"network": "linkedin"}, {"network": "facebook"}],
                }
            ]
        }
    }
    content_id: str = Field(min_length=1, max_length=200)
    targets: list[TargetIn] = Field(min_length=1, max_length=3)
    scheduled_at: datetime | None = None


class ShareNetworkOut(BaseModel):
    network: str
    mode: str
    status: str
    commentary: str
    tracked_url: str
    intent_url: str = ""
    post_ref: str
    failure: str


def shown(entry: NetworkShare) -> dict[str, str]:
    """What both APIs show of a share's network, besides its network and mode."""
    return {
        "status": entry.status.value,
        "commentary": entry.commentary,
        "tracked_url": entry.tracked_url,
        "intent_url": entry.intent_url,
        "post_ref": entry.post_ref,
        "failure": entry.failure,
    }


class ShareOut(BaseModel):
    id: str
    content_id: str
    scheduled_at: datetime | None
    created_at: datetime
    networks: list[ShareNetworkOut]

    @classmethod
    def of(cls, share: Share) -> ShareOut:
        return cls(
            id=share.id,
            content_id=share.content_id,
            scheduled_at=share.scheduled_at,
            created_at=share.created_at,
            networks=[
                ShareNetworkOut(network=network.value, mode=e.mode.value, **shown(e))
                for network, e in share.networks.items()
            ],
        )


class ListedShareOut(ShareOut):
    content_title: str | None = Field(
        description="the shared item's title; null if distribution never saw it approved"
    )


class SharePageOut(BaseModel):
    shares: list[ListedShareOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page")

    @classmethod
    def of(cls, page: SharePage) -> SharePageOut:
        return cls(
            shares=[
                ListedShareOut(
                    **ShareOut.of(share).model_dump(),
                    content_title=page.titles.get(share.content_id),
                )
                for share in page.shares
            ],
            next_cursor=page.next_cursor,
        )


class XModeIn(BaseModel):
    x_mode: Mode = Field(
        description="intent: X shares go through the share dialog (no API cost)",
    )


def router(
    catalog: Catalog,
    accounts: Accounts,
    sharing: ShareRequests,
    history: ShareHistory,
    limits: PublicLimits,
) -> APIRouter:
    api = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

    @api.get(
        "/content/{content_id}",
        tags=["content"],
        summary="An approved item as distribution knows it",
    )
    async def get_content(content_id: PathId, principal: Authenticated) -> dict[str, Any]:
        found = await catalog.sharable_content(principal, content_id)
        return {
            "content": MessageToDict(found.content, preserving_proto_field_name=True),
            "retracted": found.retracted,
        }

    @api.post(
        "/accounts/{network}/connect",
        tags=["accounts"],
        summary="Start connecting a social account (OAuth 2.0 with PKCE)",
    )
    async def connect(network: Network, body: ConnectIn, principal: Authenticated) -> ConnectOut:
        url, state = await accounts.start_connect(principal, network, body.redirect_uri)
        return ConnectOut(authorization_url=url, state=state)

    @api.post(
        "/accounts/{network}/callback",
        tags=["accounts"],
        responses=PUBLIC_PROBLEM_RESPONSES,
        summary="Finish connecting with the code and state from the platform's redirect",
    )
    async def callback(network: Network, body: CallbackIn, principal: Authenticated) -> AccountOut:
        # Each call exchanges a code with the platform: limited per caller (not
        # per address: a whole office may connect from one).
        limits.check("oauth_callback", advocate_key(principal.tenant, principal.subject))
        return AccountOut.of(
            await accounts.complete_connect(principal, network, body.code, body.state)
        )

    @api.get("/accounts", tags=["accounts"], summary="The caller's accounts and their health")
    async def list_accounts(principal: Authenticated) -> list[AccountOut]:
        return [AccountOut.of(view) for view in await accounts.list(principal)]

    @api.post(
        "/shares",
        status_code=201,
        tags=["shares"],
        summary="Share a live item to one or more networks, now or later",
        responses=links_to(
            201,
            {
                "get_share_v1_shares__share_id__get": {"share_id": "$response.body#/id"},
                "confirm_v1_shares__share_id__networks__network__confirm_post": {
                    "share_id": "$response.body#/id",
                    "network": "$response.body#/networks/0/network",
                },
            },
        ),
    )
    async def request_share(
        body: ShareIn,
        principal: Authenticated,
        idempotency_key: IdempotencyKey = None,
    ) -> ShareOut:
        share = await sharing.request_share(
            principal,
            body.content_id,
            [ShareTarget(t.network, t.commentary) for t in body.targets],
            body.scheduled_at,
            idempotency_key,
        )
        return ShareOut.of(share)

    @api.get("/shares", tags=["shares"], summary="The caller's own shares, newest first")
    async def list_shares(
        principal: Authenticated,
        cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> SharePageOut:
        return SharePageOut.of(await history.page(principal, cursor, limit))

    @api.get("/shares/{share_id}", tags=["shares"], summary="A share and each network's status")
    async def get_share(share_id: PathId, principal: Authenticated) -> ShareOut:
        return ShareOut.of(await sharing.share(principal, share_id))

    @api.post(
        "/shares/{share_id}/networks/{network}/confirm",
        tags=["shares"],
        summary="The advocate posted through the share intent",
    )
    async def confirm(share_id: PathId, network: Network, principal: Authenticated) -> ShareOut:
        return ShareOut.of(await sharing.confirm_intent(principal, share_id, network))

    @api.put(
        "/settings/x-mode",
        status_code=204,
        tags=["settings"],
        summary="Post to X through the API or the share intent (admin)",
    )
    async def x_mode(body: XModeIn, principal: Authenticated) -> Response:
        await sharing.set_x_mode(principal, body.x_mode)
        return Response(status_code=204)

    return api
