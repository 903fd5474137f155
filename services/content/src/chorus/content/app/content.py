"""The content service's use cases: one method per command, shared by REST and gRPC."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from chorus.content.adapters.store import ContentStore, FeedPosition
from chorus.content.app import events
from chorus.content.domain import workflow
from chorus.content.domain.compliance import check_item, valid_url
from chorus.content.domain.model import (
    Audience,
    Commentary,
    Enrollment,
    EnrollmentStatus,
    Item,
    ItemKind,
    Network,
    PostingFrequency,
    Profile,
    Program,
    State,
)
from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.auth import Principal, Role
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.frequency import count_posts
from chorus.kit.outbox import outbox_entry
from chorus.kit.pagination import MAX_PAGE, decode_cursor, encode_cursor
from chorus.kit.topics import (
    ADVOCATE_LIFECYCLE,
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    PROGRAM_CHANGED,
    advocate_key,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProgramChange:
    policy_text: str
    disclosure: str
    disclosure_auto_append: bool
    banned_terms: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    frequency: PostingFrequency


@dataclass(frozen=True)
class ItemFields:
    """What a curator (or an advocate suggesting a work moment) writes."""

    title: str
    url: str
    summary: str = ""
    commentaries: tuple[Commentary, ...] = ()
    media_refs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    audience: Audience = field(default_factory=Audience)
    language: str = "en"
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    priority: int = 0


@dataclass(frozen=True)
class ItemView:
    item: Item
    state: State  # the effective state (live and expired follow the clock)


@dataclass(frozen=True)
class Page:
    items: list[ItemView]
    next_cursor: str | None


@dataclass(frozen=True)
class FeedEntry:
    item: Item
    shared_on: list[str]


@dataclass(frozen=True)
class FrequencyStatus:
    shares_today: int
    shares_this_week: int
    per_day: int
    per_week: int
    hard_limit: bool

    @property
    def reached(self) -> bool:
        return self.shares_today >= self.per_day or self.shares_this_week >= self.per_week


@dataclass(frozen=True)
class Feed:
    entries: list[FeedEntry]
    next_cursor: str | None
    frequency: FrequencyStatus
    enrolled: bool
    policy_acknowledged: bool


def _conflict_on_transition(error: workflow.InvalidTransition) -> ProblemError:
    return ProblemError(
        ErrorCode.INVALID_STATE,
        str(error),
        extra={"current_state": error.current.value, "action": error.action.value},
    )


def _require_link(fields: ItemFields) -> None:
    """What no item may hold, draft or not, whatever the programme's rules: a
    link that is not http(s) (a `javascript:` link would run in a reader's page)."""
    if not valid_url(fields.url):
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED,
            "the item's link is not valid",
            [Violation("url", "an http or https URL with a host")],
        )


def _compliance_error(item: Item, program: Program) -> ProblemError | None:
    violations = check_item(item, program)
    if not violations:
        return None
    return ProblemError(
        ErrorCode.VALIDATION_FAILED,
        f"{len(violations)} compliance violation(s)",
        [Violation(v.field, f"{v.rule}: {v.message}") for v in violations],
        {"rules": sorted({v.rule for v in violations})},
    )


class ContentApp:
    def __init__(self, store: ContentStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._now = clock

    # Program ---------------------------------------------------------------
    async def program(self, principal: Principal) -> Program:
        return await self._store.get_program(principal.tenant) or Program(principal.tenant)

    async def set_program(
        self, principal: Principal, change: ProgramChange, if_match: int | None
    ) -> Program:
        principal.require_role(Role.ADMIN)
        current = await self.program(principal)
        if if_match is not None and if_match != current.version:
            raise ProblemError(
                ErrorCode.PRECONDITION_FAILED,
                f"the program is at version {current.version}, not {if_match}",
            )
        policy_changed = change.policy_text != current.policy_text
        updated = Program(
            tenant=principal.tenant,
            policy_text=change.policy_text,
            policy_version=current.policy_version + (1 if policy_changed else 0),
            disclosure=change.disclosure,
            disclosure_auto_append=change.disclosure_auto_append,
            banned_terms=change.banned_terms,
            allowed_domains=change.allowed_domains,
            frequency=change.frequency,
            version=current.version + 1,
        )
        entry = outbox_entry(PROGRAM_CHANGED, principal.tenant, events.program_changed(updated))
        if not await self._store.save_program(updated, current.version, [entry]):
            raise ProblemError(ErrorCode.PRECONDITION_FAILED, "the program changed meanwhile")
        return updated

    # Enrollment --------------------------------------------------------------
    async def enrollment(self, principal: Principal) -> Enrollment | None:
        return await self._store.get_enrollment(principal.tenant, principal.subject)

    async def enroll(
        self,
        principal: Principal,
        policy_version: int,
        profile: Profile,
        auto_share: bool,
        declared_audience: Mapping[Network, int] | None = None,
    ) -> Enrollment:
        """Opt in (or re-acknowledge a new policy version) of the advocate's own will."""
        principal.require_role(Role.ADVOCATE)
        program = await self.program(principal)
        if program.policy_version == 0:
            raise ProblemError(ErrorCode.INVALID_STATE, "the program has no policy to accept yet")
        if policy_version != program.policy_version:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                f"acknowledge the current policy version {program.policy_version}",
                [Violation("policy_version", f"must be {program.policy_version}")],
                {"current_policy_version": program.policy_version},
            )
        enrollment = Enrollment(
            principal.tenant,
            principal.subject,
            EnrollmentStatus.ENROLLED,
            policy_version,
            profile,
            auto_share,
            dict(declared_audience or {}),
        )
        event = events.advocate_lifecycle(
            enrollment, AdvocateLifecycle.CHANGE_ENROLLED, self._now()
        )
        await self._store.save_enrollment(enrollment, [self._lifecycle_entry(enrollment, event)])
        return enrollment

    async def opt_out(self, principal: Principal) -> Enrollment:
        current = await self.enrollment(principal)
        if current is None:
            raise not_found("enrollment")
        opted_out = replace(current, status=EnrollmentStatus.OPTED_OUT, auto_share=False)
        event = events.advocate_lifecycle(
            opted_out, AdvocateLifecycle.CHANGE_OPTED_OUT, self._now()
        )
        await self._store.save_enrollment(opted_out, [self._lifecycle_entry(opted_out, event)])
        return opted_out

    async def erase(self, principal: Principal, advocate: str) -> None:
        """Erasure on request: by the advocate themselves, or by an admin."""
        if advocate != principal.subject:
            principal.require_role(Role.ADMIN)
        tombstone = Enrollment(principal.tenant, advocate, EnrollmentStatus.OPTED_OUT, 0)
        event = events.advocate_lifecycle(tombstone, AdvocateLifecycle.CHANGE_ERASED, self._now())
        await self._store.erase_advocate(
            principal.tenant, advocate, [self._lifecycle_entry(tombstone, event)]
        )

    @staticmethod
    def _lifecycle_entry(enrollment: Enrollment, event: AdvocateLifecycle) -> dict[str, object]:
        return outbox_entry(
            ADVOCATE_LIFECYCLE, advocate_key(enrollment.tenant, enrollment.advocate), event
        )

    # Items -------------------------------------------------------------------
    async def create_item(
        self, principal: Principal, fields: ItemFields, idempotency_key: str | None
    ) -> ItemView:
        """Curators create drafts; advocates suggest work moments, which enter review at once."""
        principal.require_role(Role.CURATOR, Role.ADVOCATE)
        _require_link(fields)
        suggestion = not principal.has_role(Role.CURATOR)
        item = Item(
            tenant=principal.tenant,
            id=uuid.uuid4().hex,
            author=principal.subject,
            kind=ItemKind.SUGGESTION if suggestion else ItemKind.CURATED,
            created_at=self._now(),
            **vars(fields),
        )
        if suggestion:
            program = await self.program(principal)
            if error := _compliance_error(item, program):
                raise error
            item = workflow.submit(item, self._now())
        saved = await self._store.insert_item(item, idempotency_key)
        return self._view(saved)

    async def item(self, principal: Principal, item_id: str) -> ItemView:
        item = await self._store.get_item(principal.tenant, item_id)
        if item is None:
            raise not_found(f"item {item_id!r}")
        if principal.has_role(Role.CURATOR, Role.APPROVER, Role.ADMIN) or (
            item.author == principal.subject
        ):
            return self._view(item)
        if self._view(item).state is State.LIVE:
            return self._view(item)
        raise not_found(f"item {item_id!r}")  # advocates see live items and their own only

    async def update_item(
        self, principal: Principal, item_id: str, fields: ItemFields, if_match: int | None
    ) -> ItemView:
        principal.require_role(Role.CURATOR, Role.ADVOCATE)
        _require_link(fields)
        current = await self._editable(principal, item_id, if_match)
        try:
            workflow.check(current, workflow.Action.EDIT, self._now())
        except workflow.InvalidTransition as error:
            raise _conflict_on_transition(error) from error
        updated = replace(current, **vars(fields), version=current.version + 1)
        return await self._write(current, updated, [], if_match)

    async def submit(self, principal: Principal, item_id: str, if_match: int | None) -> ItemView:
        principal.require_role(Role.CURATOR, Role.ADVOCATE)
        current = await self._editable(principal, item_id, if_match)
        program = await self.program(principal)
        if error := _compliance_error(current, program):
            raise error
        return await self._transition(current, lambda i, now: workflow.submit(i, now), [], if_match)

    async def approve(self, principal: Principal, item_id: str, if_match: int | None) -> ItemView:
        principal.require_role(Role.APPROVER, Role.ADMIN)
        current = await self._for_update(principal, item_id, if_match)
        program = await self.program(principal)
        try:
            approved = workflow.approve(current, principal.subject, self._now())
        except workflow.InvalidTransition as error:
            raise _conflict_on_transition(error) from error
        except workflow.FourEyesViolation as error:
            raise ProblemError(
                ErrorCode.FORBIDDEN, str(error), extra={"rule": "four_eyes"}
            ) from error
        if violation := _compliance_error(approved, program):
            raise violation
        approved = replace(approved, version=current.version + 1)
        entry = outbox_entry(
            CONTENT_APPROVED,
            f"{approved.tenant}:{approved.id}",
            events.content_approved(approved, program),
        )
        return await self._write(current, approved, [entry], if_match)

    async def reject(
        self, principal: Principal, item_id: str, reason: str, if_match: int | None
    ) -> ItemView:
        principal.require_role(Role.APPROVER, Role.ADMIN)
        if not reason.strip():
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "a rejection needs a reason",
                [Violation("reason", "must not be empty")],
            )
        current = await self._for_update(principal, item_id, if_match)
        return await self._transition(
            current, lambda i, now: workflow.reject(i, reason, now), [], if_match
        )

    async def revise(self, principal: Principal, item_id: str, if_match: int | None) -> ItemView:
        principal.require_role(Role.CURATOR, Role.ADVOCATE)
        current = await self._editable(principal, item_id, if_match)
        return await self._transition(current, lambda i, now: workflow.revise(i, now), [], if_match)

    async def retract(
        self, principal: Principal, item_id: str, reason: str, if_match: int | None
    ) -> ItemView:
        principal.require_role(Role.CURATOR, Role.APPROVER, Role.ADMIN)
        current = await self._for_update(principal, item_id, if_match)
        try:
            retracted = workflow.retract(current, reason, self._now())
        except workflow.InvalidTransition as error:
            raise _conflict_on_transition(error) from error
        retracted = replace(retracted, version=current.version + 1)
        entry = outbox_entry(
            CONTENT_RETRACTED,
            f"{retracted.tenant}:{retracted.id}",
            events.content_retracted(retracted, principal.subject, self._now()),
        )
        return await self._write(current, retracted, [entry], if_match)

    async def list_items(
        self,
        principal: Principal,
        *,
        states: Sequence[State],
        tag: str | None,
        author: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        if not principal.has_role(Role.CURATOR, Role.APPROVER, Role.ADMIN):
            author = principal.subject  # advocates list their own suggestions
        after = decode_cursor(cursor, dates=("created_at",), required=("id",))
        # Stored states: live and expired are approved items seen through the clock.
        stored = sorted(
            {State.APPROVED.value if s in (State.LIVE, State.EXPIRED) else s.value for s in states}
        )
        limit = max(1, min(limit, MAX_PAGE))
        items = await self._store.list_items(
            principal.tenant, states=stored, tag=tag, author=author, after=after, limit=limit + 1
        )
        views = [self._view(item) for item in items[:limit]]
        if states:
            views = [view for view in views if view.state in states]
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            next_cursor = encode_cursor({"created_at": last.created_at, "id": last.id})
        return Page(views, next_cursor)

    # Feed --------------------------------------------------------------------
    async def feed(self, principal: Principal, cursor: str | None, limit: int) -> Feed:
        principal.require_role(Role.ADVOCATE)
        now = self._now()
        program = await self.program(principal)
        enrollment = await self.enrollment(principal)
        profile = enrollment.profile if enrollment else Profile()
        position = _decode_feed_position(cursor)
        limit = max(1, min(limit, MAX_PAGE))
        found = await self._store.feed_page(
            principal.tenant, profile, principal.groups, now, position, limit + 1
        )
        page, more = found[:limit], len(found) > limit
        shares = await self._store.shares_of(principal.tenant, principal.subject)
        shared: dict[str, set[str]] = {}
        for content_id, network, _ in shares:
            shared.setdefault(content_id, set()).add(network)
        return Feed(
            entries=[FeedEntry(item, sorted(shared.get(item.id, ()))) for item in page],
            next_cursor=encode_cursor(_feed_position(page[-1])) if more else None,
            frequency=self._frequency(program, [at for _, _, at in shares], now),
            enrolled=enrollment is not None and enrollment.status is EnrollmentStatus.ENROLLED,
            policy_acknowledged=enrollment is not None and enrollment.may_share_under(program),
        )

    async def on_shares_performed(self, shares: Sequence[SharePerformed]) -> None:
        """Feed read model: remember what the advocates shared (idempotent)."""
        await self._store.record_shares(shares)

    @staticmethod
    def _frequency(program: Program, shared_at: list[datetime], now: datetime) -> FrequencyStatus:
        posts = count_posts(shared_at, now)
        f = program.frequency
        return FrequencyStatus(
            shares_today=posts.today,
            shares_this_week=posts.this_week,
            per_day=f.per_day,
            per_week=f.per_week,
            hard_limit=f.hard_limit,
        )

    # Helpers -----------------------------------------------------------------
    def _view(self, item: Item) -> ItemView:
        return ItemView(item, workflow.effective_state(item, self._now()))

    async def _for_update(self, principal: Principal, item_id: str, if_match: int | None) -> Item:
        item = await self._store.get_item(principal.tenant, item_id)
        if item is None:
            raise not_found(f"item {item_id!r}")
        if if_match is not None and if_match != item.version:
            raise ProblemError(
                ErrorCode.PRECONDITION_FAILED,
                f"the item is at version {item.version}, not {if_match}",
                extra={"current_version": item.version},
            )
        return item

    async def _editable(self, principal: Principal, item_id: str, if_match: int | None) -> Item:
        item = await self._for_update(principal, item_id, if_match)
        if not principal.has_role(Role.CURATOR) and item.author != principal.subject:
            raise not_found(f"item {item_id!r}")  # advocates touch their own suggestions only
        return item

    async def _transition(
        self,
        current: Item,
        step: Callable[[Item, datetime], Item],
        entries: list[dict[str, object]],
        if_match: int | None,
    ) -> ItemView:
        try:
            updated = step(current, self._now())
        except workflow.InvalidTransition as error:
            raise _conflict_on_transition(error) from error
        updated = replace(updated, version=current.version + 1)
        return await self._write(current, updated, entries, if_match)

    async def _write(
        self,
        current: Item,
        updated: Item,
        entries: list[dict[str, object]],
        if_match: int | None,
    ) -> ItemView:
        if not await self._store.replace_item(updated, current.version, list(entries)):
            # Another request changed the item between our read and write: a
            # failed precondition if the caller sent one, else a plain conflict.
            raise ProblemError(
                ErrorCode.PRECONDITION_FAILED if if_match is not None else ErrorCode.CONFLICT,
                "the item changed meanwhile (another request won); reload it",
                extra={"current_version": current.version},
            )
        return self._view(updated)


def _decode_feed_position(cursor: str | None) -> FeedPosition | None:
    after = decode_cursor(cursor, dates=("published",), required=("priority", "id"))
    if after is None:
        return None
    if not isinstance(after["priority"], int) or not isinstance(after["id"], str):
        raise ProblemError(
            ErrorCode.INVALID_REQUEST,
            "the cursor is not valid",
            [Violation("cursor", "pass back the next_cursor of a previous page")],
        )
    return FeedPosition(after["priority"], after["published"], after["id"])


def _feed_position(item: Item) -> dict[str, object]:
    """Where a page ending with `item` ends, in feed order (see FeedPosition)."""
    published = item.publish_at or item.approved_at
    return {"priority": item.priority, "published": published, "id": item.id}
