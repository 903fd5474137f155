"""gRPC entry points of distribution, calling the same use cases as REST, with
requests validated by the same models."""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.distribution.v1 import distribution_service_pb2 as pb
from chorus.contracts.distribution.v1 import distribution_service_pb2_grpc as pb_grpc
from chorus.distribution.api.rest import CallbackIn, ConnectIn, ShareIn, shown
from chorus.distribution.app.accounts import Accounts, AccountView
from chorus.distribution.app.catalog import Catalog
from chorus.distribution.app.requests import ShareRequests, ShareTarget
from chorus.distribution.app.share_events import MODES
from chorus.distribution.app.share_history import ShareHistory
from chorus.distribution.domain.model import Share
from chorus.kit.auth import Principal, TokenVerifier
from chorus.kit.envelope import timestamp
from chorus.kit.errors import not_found
from chorus.kit.grpc_server import GrpcContext as Context
from chorus.kit.grpc_server import Registration, principal_from
from chorus.kit.networks import network_name, network_of, network_pb
from chorus.kit.validation import requested_moment, validated


def _stamp(value: Any) -> Timestamp | None:
    return None if value is None else timestamp(value)


def account_pb(view: AccountView) -> pb.Account:
    return pb.Account(
        network=network_pb(view.network),
        member_id=view.member_id,
        health=view.health.value,
        expires_at=_stamp(view.expires_at),
        refreshable=view.refreshable,
    )


def share_pb(share: Share) -> pb.Share:
    return pb.Share(
        share_id=share.id,
        content_id=share.content_id,
        scheduled_at=_stamp(share.scheduled_at),
        created_at=_stamp(share.created_at),
        networks=[
            pb.ShareNetwork(network=network_pb(network), mode=MODES[e.mode], **shown(e))
            for network, e in share.networks.items()
        ],
    )


class DistributionServicer(pb_grpc.DistributionServiceServicer):
    def __init__(
        self,
        catalog: Catalog,
        accounts: Accounts,
        sharing: ShareRequests,
        history: ShareHistory,
        verifier: TokenVerifier,
    ) -> None:
        self._catalog = catalog
        self._accounts = accounts
        self._sharing = sharing
        self._history = history
        self._verifier = verifier

    async def _who(self, context: Context) -> Principal:
        return await principal_from(context, self._verifier)

    async def GetSharableContent(
        self, request: pb.GetSharableContentRequest, context: Context
    ) -> Any:
        found = await self._catalog.sharable_content(await self._who(context), request.content_id)
        return pb.GetSharableContentResponse(content=found.content, retracted=found.retracted)

    async def StartConnect(self, request: pb.StartConnectRequest, context: Context) -> Any:
        who = await self._who(context)
        body = validated(ConnectIn, {"redirect_uri": request.redirect_uri})
        url, state = await self._accounts.start_connect(
            who, network_name(request.network), body.redirect_uri
        )
        return pb.StartConnectResponse(authorization_url=url, state=state)

    async def CompleteConnect(self, request: pb.CompleteConnectRequest, context: Context) -> Any:
        who = await self._who(context)
        body = validated(CallbackIn, {"code": request.code, "state": request.state})
        view = await self._accounts.complete_connect(
            who, network_name(request.network), body.code, body.state
        )
        return pb.CompleteConnectResponse(account=account_pb(view))

    async def ListAccounts(self, request: pb.ListAccountsRequest, context: Context) -> Any:
        views = await self._accounts.list(await self._who(context))
        return pb.ListAccountsResponse(accounts=[account_pb(v) for v in views])

    async def RequestShare(self, request: pb.RequestShareRequest, context: Context) -> Any:
        who = await self._who(context)
        body = validated(
            ShareIn,
            {
                "content_id": request.content_id,
                "targets": [
                    {"network": network_name(t.network), "commentary": t.commentary or None}
                    for t in request.targets
                ],
                "scheduled_at": requested_moment(request, "scheduled_at"),
            },
        )
        share = await self._sharing.request_share(
            who,
            body.content_id,
            [ShareTarget(t.network, t.commentary) for t in body.targets],
            body.scheduled_at,
            request.idempotency_key or None,
        )
        return pb.RequestShareResponse(share=share_pb(share))

    async def GetShare(self, request: pb.GetShareRequest, context: Context) -> Any:
        return pb.GetShareResponse(
            share=share_pb(await self._sharing.share(await self._who(context), request.share_id))
        )

    async def ListShares(self, request: pb.ListSharesRequest, context: Context) -> Any:
        who = await self._who(context)
        page = await self._history.page(who, request.cursor or None, request.limit or 20)
        return pb.ListSharesResponse(
            shares=[
                pb.ListedShare(share=share_pb(s), content_title=page.titles.get(s.content_id, ""))
                for s in page.shares
            ],
            next_cursor=page.next_cursor or "",
        )

    async def ConfirmIntent(self, request: pb.ConfirmIntentRequest, context: Context) -> Any:
        who = await self._who(context)
        network = network_of(request.network)
        if network is None:
            raise not_found(f"network {request.network} in share {request.share_id!r}")
        share = await self._sharing.confirm_intent(who, request.share_id, network)
        return pb.ConfirmIntentResponse(share=share_pb(share))


def registration(servicer: DistributionServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["DistributionService"].full_name
    return (servicer, pb_grpc.add_DistributionServiceServicer_to_server, name)
