"""REST entry points of the content service: translate, call one use case, translate back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from chorus.content.api.schemas import (
    EnrollIn,
    EnrollmentOut,
    FeedOut,
    ItemIn,
    ItemOut,
    ItemPage,
    ProgramIn,
    ProgramOut,
    ReasonIn,
)
from chorus.content.app.content import ContentApp, ItemView
from chorus.content.domain.model import State
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.fields import Cursor, IdempotencyKey, IfMatch, PathId, QueryId
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated, links_to

ERRORS = {
    **PROBLEM_RESPONSES,
    409: {"description": "Not allowed in the current state (body names it)"},
    412: {"description": "If-Match does not match the current version"},
    428: {"description": "If-Match is required and was not sent"},
}
# What a created or changed item's answer lets a client do next: read it by
# its id, act on it with its ETag.
ITEM_ACTIONS = (
    "update_item_v1_items__item_id__put",
    "submit_v1_items__item_id__submit_post",
    "approve_v1_items__item_id__approve_post",
    "reject_v1_items__item_id__reject_post",
    "revise_v1_items__item_id__revise_post",
    "retract_v1_items__item_id__retract_post",
)


def item_links(status: int) -> dict[int | str, dict[str, Any]]:
    by_id = {"item_id": "$response.body#/id"}
    by_id_and_etag = {**by_id, "if-match": "$response.header.ETag"}
    return links_to(
        status,
        {
            "get_item_v1_items__item_id__get": by_id,
            **{operation_id: by_id_and_etag for operation_id in ITEM_ACTIONS},
        },
    )


def parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise ProblemError(
            ErrorCode.INVALID_REQUEST,
            "If-Match must be an ETag we sent",
            [Violation("If-Match", 'e.g. "3"')],
        ) from exc


def _with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def _item(response: Response, view: ItemView) -> ItemOut:
    _with_etag(response, view.item.version)
    return ItemOut.of(view)


def router(app: ContentApp) -> APIRouter:
    api = APIRouter(prefix="/v1", responses=ERRORS)

    @api.get("/program", tags=["program"], summary="The tenant's advocacy program")
    async def get_program(principal: Authenticated, response: Response) -> ProgramOut:
        program = await app.program(principal)
        _with_etag(response, program.version)
        return ProgramOut.of(program)

    @api.put(
        "/program",
        tags=["program"],
        summary="Set the program (admin); a changed policy text gets a new policy version",
    )
    async def put_program(
        body: ProgramIn, principal: Authenticated, response: Response, if_match: IfMatch = None
    ) -> ProgramOut:
        program = await app.set_program(principal, body.to_change(), parse_if_match(if_match))
        _with_etag(response, program.version)
        return ProgramOut.of(program)

    @api.get("/enrollment", tags=["enrollment"], summary="The calling advocate's enrollment")
    async def get_enrollment(principal: Authenticated) -> EnrollmentOut:
        enrollment = await app.enrollment(principal)
        if enrollment is None:
            raise not_found("enrollment")
        return EnrollmentOut.of(enrollment)

    @api.put(
        "/enrollment",
        tags=["enrollment"],
        summary="Opt in, acknowledging the current policy version (also to re-acknowledge)",
    )
    async def enroll(body: EnrollIn, principal: Authenticated) -> EnrollmentOut:
        return EnrollmentOut.of(
            await app.enroll(
                principal, body.policy_version, body.profile(), body.auto_share, body.audience
            )
        )

    @api.delete("/enrollment", tags=["enrollment"], summary="Opt out, at any time")
    async def opt_out(principal: Authenticated) -> EnrollmentOut:
        return EnrollmentOut.of(await app.opt_out(principal))

    @api.post(
        "/advocates/{advocate}/erasure",
        status_code=202,
        tags=["enrollment"],
        summary="Erase an advocate's personal data (themselves, or an admin)",
    )
    async def erase(advocate: PathId, principal: Authenticated) -> dict[str, str]:
        await app.erase(principal, advocate)
        return {"status": "erasure requested", "advocate": advocate}

    @api.post(
        "/items",
        status_code=201,
        tags=["items"],
        summary="Create a draft (curator) or suggest a work moment (advocate)",
        responses=item_links(201),
    )
    async def create_item(
        body: ItemIn,
        principal: Authenticated,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> ItemOut:
        view = await app.create_item(principal, body.fields(), idempotency_key)
        response.headers["Location"] = f"/v1/items/{view.item.id}"
        return _item(response, view)

    @api.get("/items", tags=["items"], summary="List items by state, tag and author")
    async def list_items(
        principal: Authenticated,
        state: Annotated[list[State], Query(max_length=len(State))] = [],  # noqa: B006 (FastAPI reads it)
        tag: QueryId = None,
        author: QueryId = None,
        cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ItemPage:
        return ItemPage.of(
            await app.list_items(
                principal, states=state, tag=tag, author=author, cursor=cursor, limit=limit
            )
        )

    @api.get("/items/{item_id}", tags=["items"], summary="One item, with its ETag")
    async def get_item(item_id: PathId, principal: Authenticated, response: Response) -> ItemOut:
        return _item(response, await app.item(principal, item_id))

    @api.put(
        "/items/{item_id}",
        tags=["items"],
        summary="Edit a draft or rejected item (If-Match required against lost updates)",
    )
    async def update_item(
        item_id: PathId,
        body: ItemIn,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch = None,
    ) -> ItemOut:
        version = parse_if_match(if_match)
        if version is None:
            raise ProblemError(
                ErrorCode.PRECONDITION_REQUIRED, "send If-Match with the ETag you read"
            )
        return _item(response, await app.update_item(principal, item_id, body.fields(), version))

    @api.post(
        "/items/{item_id}/submit",
        tags=["workflow"],
        summary="draft → in_review",
        responses=item_links(200),
    )
    async def submit(
        item_id: PathId, principal: Authenticated, response: Response, if_match: IfMatch = None
    ) -> ItemOut:
        return _item(response, await app.submit(principal, item_id, parse_if_match(if_match)))

    @api.post(
        "/items/{item_id}/approve",
        tags=["workflow"],
        summary="in_review → approved (approver; never the author)",
    )
    async def approve(
        item_id: PathId, principal: Authenticated, response: Response, if_match: IfMatch = None
    ) -> ItemOut:
        return _item(response, await app.approve(principal, item_id, parse_if_match(if_match)))

    @api.post("/items/{item_id}/reject", tags=["workflow"], summary="in_review → rejected")
    async def reject(
        item_id: PathId,
        body: ReasonIn,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch = None,
    ) -> ItemOut:
        return _item(
            response, await app.reject(principal, item_id, body.reason, parse_if_match(if_match))
        )

    @api.post("/items/{item_id}/revise", tags=["workflow"], summary="rejected → draft")
    async def revise(
        item_id: PathId, principal: Authenticated, response: Response, if_match: IfMatch = None
    ) -> ItemOut:
        return _item(response, await app.revise(principal, item_id, parse_if_match(if_match)))

    @api.post(
        "/items/{item_id}/retract",
        tags=["workflow"],
        summary="approved or live → retracted; shares of it are withdrawn",
    )
    async def retract(
        item_id: PathId,
        body: ReasonIn,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch = None,
    ) -> ItemOut:
        return _item(
            response, await app.retract(principal, item_id, body.reason, parse_if_match(if_match))
        )

    @api.get(
        "/feed",
        tags=["feed"],
        summary="Live items for the calling advocate, highest priority and newest first",
    )
    async def feed(
        principal: Authenticated,
        cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> FeedOut:
        return FeedOut.of(await app.feed(principal, cursor, limit))

    return api
