"""gRPC entry points of the content service: the same use cases as REST, with
requests validated by the same models."""

from __future__ import annotations

from typing import Any

from chorus.content.api.schemas import EnrollIn, ItemIn, ProgramIn
from chorus.content.app.content import ContentApp, ItemView
from chorus.content.domain.model import Enrollment, Program, State
from chorus.contracts.common.v1 import common_pb2
from chorus.contracts.content.v1 import content_service_pb2 as pb
from chorus.contracts.content.v1 import content_service_pb2_grpc as pb_grpc
from chorus.kit.auth import Principal, TokenVerifier
from chorus.kit.envelope import optional_timestamp as timestamp
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.grpc_server import GrpcContext as Context
from chorus.kit.grpc_server import Registration, principal_from
from chorus.kit.networks import network_name, network_pb
from chorus.kit.validation import requested_moment, validated


def item_in(fields: pb.ItemFields) -> ItemIn:
    return validated(
        ItemIn,
        {
            "title": fields.title,
            "url": fields.url,
            "summary": fields.summary,
            "commentaries": [
                {"network": network_name(c.network), "text": c.text} for c in fields.commentaries
            ],
            "media_refs": list(fields.media_refs),
            "tags": list(fields.tags),
            "audience": {
                "groups": list(fields.audience.groups),
                "departments": list(fields.audience.departments),
                "locations": list(fields.audience.locations),
                "languages": list(fields.audience.languages),
            },
            "language": fields.language or "en",
            "publish_at": requested_moment(fields, "publish_at", "fields.publish_at"),
            "expires_at": requested_moment(fields, "expires_at", "fields.expires_at"),
            "priority": fields.priority,
        },
    )


def item_pb(view: ItemView) -> pb.Item:
    i = view.item
    return pb.Item(
        id=i.id,
        tenant=i.tenant,
        author=i.author,
        kind=i.kind.value,
        state=view.state.value,
        version=i.version,
        fields=pb.ItemFields(
            title=i.title,
            url=i.url,
            summary=i.summary,
            commentaries=[
                common_pb2.Commentary(network=network_pb(c.network.value), text=c.text)
                for c in i.commentaries
            ],
            media_refs=i.media_refs,
            tags=i.tags,
            audience=common_pb2.Audience(
                groups=i.audience.groups,
                departments=i.audience.departments,
                locations=i.audience.locations,
                languages=i.audience.languages,
            ),
            language=i.language,
            publish_at=timestamp(i.publish_at),
            expires_at=timestamp(i.expires_at),
            priority=i.priority,
        ),
        rejection_reason=i.rejection_reason,
        retraction_reason=i.retraction_reason,
        approved_by=i.approved_by,
        approved_at=timestamp(i.approved_at),
        created_at=timestamp(i.created_at),
    )


def program_pb(p: Program) -> pb.Program:
    return pb.Program(
        tenant=p.tenant,
        policy_text=p.policy_text,
        policy_version=p.policy_version,
        disclosure=p.disclosure,
        disclosure_auto_append=p.disclosure_auto_append,
        banned_terms=p.banned_terms,
        allowed_domains=p.allowed_domains,
        frequency=pb.PostingFrequency(
            per_day=p.frequency.per_day,
            per_week=p.frequency.per_week,
            hard_limit=p.frequency.hard_limit,
        ),
        version=p.version,
    )


def enrollment_pb(e: Enrollment) -> pb.Enrollment:
    return pb.Enrollment(
        tenant=e.tenant,
        advocate=e.advocate,
        status=e.status.value,
        acknowledged_policy_version=e.acknowledged_policy_version,
        groups=e.profile.groups,
        department=e.profile.department,
        location=e.profile.location,
        languages=e.profile.languages,
        auto_share=e.auto_share,
        audience=[
            common_pb2.AudienceSize(network=network_pb(n), size=size)
            for n, size in e.declared_audience.items()
        ],
    )


def _if_match(value: int) -> int | None:
    return value or None


def _states(values: Any) -> list[State]:
    try:
        return [State(value) for value in values]
    except ValueError as exc:
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED,
            "unknown state",
            [Violation("states", f"one of {', '.join(State)}")],
        ) from exc


class ContentServicer(pb_grpc.ContentServiceServicer):
    def __init__(self, app: ContentApp, verifier: TokenVerifier) -> None:
        self._app = app
        self._verifier = verifier

    async def _who(self, context: Context) -> Principal:
        return await principal_from(context, self._verifier)

    async def GetProgram(self, request: pb.GetProgramRequest, context: Context) -> Any:
        return pb.GetProgramResponse(
            program=program_pb(await self._app.program(await self._who(context)))
        )

    async def SetProgram(self, request: pb.SetProgramRequest, context: Context) -> Any:
        who = await self._who(context)
        p, f = request.program, request.program.frequency
        body = validated(
            ProgramIn,
            {
                "policy_text": p.policy_text,
                "disclosure": p.disclosure,
                "disclosure_auto_append": p.disclosure_auto_append,
                "banned_terms": list(p.banned_terms),
                "allowed_domains": list(p.allowed_domains),
                "frequency": {
                    "per_day": f.per_day or 3,
                    "per_week": f.per_week or 10,
                    "hard_limit": f.hard_limit,
                },
            },
        )
        program = await self._app.set_program(who, body.to_change(), _if_match(request.if_match))
        return pb.SetProgramResponse(program=program_pb(program))

    async def GetEnrollment(self, request: pb.GetEnrollmentRequest, context: Context) -> Any:
        enrollment = await self._app.enrollment(await self._who(context))
        if enrollment is None:
            raise not_found("enrollment")
        return pb.GetEnrollmentResponse(enrollment=enrollment_pb(enrollment))

    async def Enroll(self, request: pb.EnrollRequest, context: Context) -> Any:
        who = await self._who(context)
        networks = [a.network for a in request.audience]
        if len(set(networks)) != len(networks):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "one audience size per network",
                [Violation("audience", "each network at most once")],
            )
        body = validated(
            EnrollIn,
            {
                "policy_version": request.policy_version,
                "groups": list(request.groups),
                "department": request.department,
                "location": request.location,
                "languages": list(request.languages),
                "auto_share": request.auto_share,
                "audience": {network_name(a.network): a.size for a in request.audience},
            },
        )
        enrollment = await self._app.enroll(
            who, body.policy_version, body.profile(), body.auto_share, body.audience
        )
        return pb.EnrollResponse(enrollment=enrollment_pb(enrollment))

    async def OptOut(self, request: pb.OptOutRequest, context: Context) -> Any:
        return pb.OptOutResponse(
            enrollment=enrollment_pb(await self._app.opt_out(await self._who(context)))
        )

    async def EraseAdvocate(self, request: pb.EraseAdvocateRequest, context: Context) -> Any:
        await self._app.erase(await self._who(context), request.advocate)
        return pb.EraseAdvocateResponse()

    async def CreateItem(self, request: pb.CreateItemRequest, context: Context) -> Any:
        view = await self._app.create_item(
            await self._who(context),
            item_in(request.fields).fields(),
            request.idempotency_key or None,
        )
        return pb.CreateItemResponse(item=item_pb(view))

    async def GetItem(self, request: pb.GetItemRequest, context: Context) -> Any:
        return pb.GetItemResponse(
            item=item_pb(await self._app.item(await self._who(context), request.item_id))
        )

    async def UpdateItem(self, request: pb.UpdateItemRequest, context: Context) -> Any:
        who = await self._who(context)
        if not request.if_match:
            raise ProblemError(
                ErrorCode.PRECONDITION_REQUIRED, "send if_match with the version read"
            )
        view = await self._app.update_item(
            who,
            request.item_id,
            item_in(request.fields).fields(),
            request.if_match,
        )
        return pb.UpdateItemResponse(item=item_pb(view))

    async def SubmitItem(self, request: pb.SubmitItemRequest, context: Context) -> Any:
        view = await self._app.submit(
            await self._who(context), request.item_id, _if_match(request.if_match)
        )
        return pb.SubmitItemResponse(item=item_pb(view))

    async def ApproveItem(self, request: pb.ApproveItemRequest, context: Context) -> Any:
        view = await self._app.approve(
            await self._who(context), request.item_id, _if_match(request.if_match)
        )
        return pb.ApproveItemResponse(item=item_pb(view))

    async def RejectItem(self, request: pb.RejectItemRequest, context: Context) -> Any:
        view = await self._app.reject(
            await self._who(context), request.item_id, request.reason, _if_match(request.if_match)
        )
        return pb.RejectItemResponse(item=item_pb(view))

    async def ReviseItem(self, request: pb.ReviseItemRequest, context: Context) -> Any:
        view = await self._app.revise(
            await self._who(context), request.item_id, _if_match(request.if_match)
        )
        return pb.ReviseItemResponse(item=item_pb(view))

    async def RetractItem(self, request: pb.RetractItemRequest, context: Context) -> Any:
        view = await self._app.retract(
            await self._who(context), request.item_id, request.reason, _if_match(request.if_match)
        )
        return pb.RetractItemResponse(item=item_pb(view))

    async def ListItems(self, request: pb.ListItemsRequest, context: Context) -> Any:
        page = await self._app.list_items(
            await self._who(context),
            states=_states(request.states),
            tag=request.tag or None,
            author=request.author or None,
            cursor=request.cursor or None,
            limit=request.limit or 20,
        )
        return pb.ListItemsResponse(
            items=[item_pb(v) for v in page.items], next_cursor=page.next_cursor or ""
        )

    async def GetFeed(self, request: pb.GetFeedRequest, context: Context) -> Any:
        feed = await self._app.feed(
            await self._who(context), request.cursor or None, request.limit or 20
        )
        f = feed.frequency
        return pb.GetFeedResponse(
            entries=[
                pb.FeedEntry(item=item_pb(ItemView(e.item, State.LIVE)), shared_on=e.shared_on)
                for e in feed.entries
            ],
            next_cursor=feed.next_cursor or "",
            frequency=pb.FrequencyStatus(
                shares_today=f.shares_today,
                shares_this_week=f.shares_this_week,
                per_day=f.per_day,
                per_week=f.per_week,
                hard_limit=f.hard_limit,
                reached=f.reached,
            ),
            enrolled=feed.enrolled,
            policy_acknowledged=feed.policy_acknowledged,
        )


def registration(servicer: ContentServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["ContentService"].full_name
    return (servicer, pb_grpc.add_ContentServiceServicer_to_server, name)
