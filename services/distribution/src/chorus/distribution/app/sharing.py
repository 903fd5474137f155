"""Share requests, the posting worker, auto-share fan-out, retraction and
scheduled shares: one use case per command, shared by REST, gRPC and consumers."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from chorus.contracts.common.v1.common_pb2 import SHARE_MODE_API, SHARE_MODE_INTENT
from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentApproved,
    ContentRetracted,
    ProgramChanged,
)
from chorus.contracts.distribution.v1.events_pb2 import (
    ShareFailed,
    SharePerformed,
    ShareRequested,
)
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.platforms import Platform
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.adapters.tracked_links import TrackedLinks
from chorus.distribution.app.accounts import Accounts, AccountUnusable
from chorus.distribution.domain.posts import intent_url, post_text
from chorus.distribution.domain.rate_limit import Limiter
from chorus.distribution.domain.sharing import (
    FINAL,
    Outcome,
    Status,
    classify,
)
from chorus.kit.auth import Principal, Role
from chorus.kit.envelope import Envelope, messages, moment_of, timestamp
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.frequency import count_posts
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import Document
from chorus.kit.networks import Network, network_name, network_pb
from chorus.kit.outbox import outbox_entry
from chorus.kit.retry import RetryPolicy
from chorus.kit.targeting import Audience, Profile, is_targeted
from chorus.kit.topics import SHARE_FAILED, SHARE_PERFORMED, SHARE_REQUESTED, advocate_key

log = logging.getLogger(__name__)
LIFECYCLE = AdvocateLifecycle
# Auto-shares prepared (checked) and then inserted together in one bulk write.
FAN_OUT_CHUNK = 500


@dataclass(frozen=True)
class ShareTarget:
    network: str
    commentary: str | None = None


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a platform that accepted a request but did not
    answer before looking again, and how long a 429 may hold a post back."""

    settle_seconds: float = 2.0
    max_inline_wait: float = 2.0


class Sharing:
    def __init__(
        self,
        store: DistributionStore,
        copies: ContentCopies,
        accounts: Accounts,
        platforms: Mapping[str, Platform],
        links: TrackedLinks,
        limiters: Mapping[str, Limiter],
        metrics: Metrics,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._copies = copies
        self._accounts = accounts
        self._platforms = platforms
        self._links = links
        self._limiters = limiters
        self._retry = retry or RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=30)
        self._timeouts = timeouts or Timeouts()
        self._now = clock
        self._posts = Counter(
            "chorus_posts_total",
            "Posting attempts by network and outcome.",
            ["network", "outcome"],
            registry=metrics.registry,
        )
        self._rate_waits = Counter(
            "chorus_rate_limit_wait_seconds_total",
            "Seconds posts waited for rate limits, by network.",
            ["network"],
            registry=metrics.registry,
        )
        self._programs: dict[str, tuple[float, Document]] = {}

    async def _program(self, tenant: str) -> Document:
        """The program's rules for posting, cached briefly (they change rarely)."""
        cached = self._programs.get(tenant)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        program = await self._store.program(tenant)
        self._programs[tenant] = (time.monotonic() + 5.0, program)
        return program

    # Read models from content's events ------------------------------------------
    async def on_lifecycle(self, events: Sequence[Envelope]) -> None:
        """The advocates' read model. A chunk holds each advocate's changes in
        order: erase whoever was erased in it, then keep each advocate's last
        change after that — two bulk writes, whatever the chunk's size."""
        erased: set[tuple[str, str]] = set()
        latest: dict[tuple[str, str], AdvocateLifecycle] = {}
        for change in messages(events, AdvocateLifecycle):
            who = (change.tenant, change.advocate)
            if change.change == LIFECYCLE.CHANGE_ERASED:
                erased.add(who)
                latest.pop(who, None)
            else:
                latest[who] = change
        await self._store.erase_advocates(sorted(erased))
        await self._store.save_advocates(
            {
                who: {
                    "enrolled": change.change == LIFECYCLE.CHANGE_ENROLLED,
                    "policy_version": change.policy_version,
                    "auto_share": change.auto_share,
                    "groups": list(change.groups),
                    "department": change.department,
                    "location": change.location,
                    "languages": list(change.languages),
                }
                for who, change in latest.items()
            }
        )

    async def on_program_changed(self, program: ProgramChanged, event: Envelope) -> None:
        await self._store.save_program(
            program.tenant,
            {
                "policy_version": program.policy_version,
                "disclosure": program.disclosure,
                "auto_append": program.disclosure_auto_append,
                "per_day": program.shares_per_day,
                "per_week": program.shares_per_week,
                "hard_limit": program.frequency_hard_limit,
            },
        )

    async def set_x_mode(self, principal: Principal, mode: str) -> None:
        principal.require_role(Role.ADMIN)
        if mode not in ("api", "intent"):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "x_mode is api or intent",
                [Violation("x_mode", "api or intent")],
            )
        await self._store.set_tenant_settings(principal.tenant, {"x_mode": mode})

    # Share requests --------------------------------------------------------------
    async def request_share(
        self,
        principal: Principal,
        content_id: str,
        targets: list[ShareTarget],
        scheduled_at: datetime | None,
        idempotency_key: str | None,
    ) -> Document:
        principal.require_role(Role.ADVOCATE)
        tenant, advocate = principal.tenant, principal.subject
        share_id = uuid.uuid4().hex
        if idempotency_key:
            share_id = await self._store.claim_idempotency_key(
                f"{tenant}:{advocate}:{idempotency_key}", share_id
            )
            if (existing := await self._store.share(share_id)) is not None:
                return existing
        networks = [t.network for t in targets]
        if not targets or len(set(networks)) != len(networks) or not set(networks) <= set(Network):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "name each network once",
                [Violation("targets", "one or more of linkedin, x, facebook")],
            )
        now = self._now()
        when = scheduled_at if scheduled_at and scheduled_at > now else None
        program = await self._store.program(tenant)
        await self._check_advocate(tenant, advocate, program)
        content = await self._live_content(tenant, content_id, when or now)
        await self._check_frequency(tenant, advocate, program, now, adding=len(targets))
        x_mode = (await self._store.tenant_settings(tenant)).get("x_mode", "api")
        share: Document = {
            "_id": share_id,
            "tenant": tenant,
            "advocate": advocate,
            "content_id": content_id,
            "created_at": now,
            "scheduled_at": when,
            "scheduled": when is not None,
            "auto": False,
            "networks": {},
        }
        events = []
        for target in targets:
            intent = target.network == Network.FACEBOOK or (
                target.network == Network.X and x_mode == "intent"
            )
            commentary = target.commentary or _suggested(content, target.network, advocate)
            entry: Document = {
                "mode": "intent" if intent else "api",
                "commentary": commentary,
                "tracked_url": "",
                "post_ref": "",
                "failure": "",
            }
            if intent:
                tracked = await self._tracked(tenant, advocate, share_id, target.network, content)
                text = post_text(
                    commentary, "", program.get("disclosure", ""), program.get("auto_append", False)
                )
                entry.update(
                    status=Status.INTENT_PENDING.value,
                    tracked_url=tracked,
                    intent_url=intent_url(target.network, tracked, text),
                )
            else:
                await self._require_account(tenant, advocate, target.network)
                entry["status"] = (Status.SCHEDULED if when else Status.QUEUED).value
                if not when:
                    events.append(self._work(tenant, advocate, share_id, target.network))
            share["networks"][target.network] = entry
        if not await self._store.insert_share(share, events):
            # The same key reached another replica (or request) at the same
            # moment and its share was stored first: that one is the answer.
            if idempotency_key and (existing := await self._store.share(share_id)) is not None:
                return existing
            raise ProblemError(ErrorCode.CONFLICT, "this share already exists")
        return share

    async def _check_advocate(self, tenant: str, advocate: str, program: Document) -> None:
        doc = await self._store.advocate(tenant, advocate)
        if doc is None or not doc.get("enrolled"):
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                "enrol in the program before sharing",
                extra={"reason": "not_enrolled"},
            )
        if doc.get("policy_version", 0) < program.get("policy_version", 0):
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                "acknowledge the current social media policy before sharing",
                extra={
                    "reason": "policy_not_acknowledged",
                    "current_policy_version": program["policy_version"],
                },
            )

    async def _live_content(self, tenant: str, content_id: str, at: datetime) -> ContentApproved:
        found = await self._copies.get(tenant, content_id)
        if found is None:
            raise not_found(f"content {content_id!r}")
        content, retracted = found
        starts, ends = moment_of(content, "publish_at"), moment_of(content, "expires_at")
        if retracted or (starts and at < starts) or (ends and at >= ends):
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                "the item is not live",
                extra={"reason": "content_not_live"},
            )
        return content

    async def _check_frequency(
        self, tenant: str, advocate: str, program: Document, now: datetime, adding: int
    ) -> None:
        """Refuse `adding` more posts beyond the program's hard limit (kit.frequency)."""
        if not program.get("hard_limit"):
            return
        shares = await self._store.shares_of(tenant, advocate)
        posted_at = [
            entry.get("performed_at") or share["created_at"]
            for share in shares
            for entry in share["networks"].values()
            if entry["status"] != Status.FAILED.value
        ]
        limits = program.get("per_day", 1 << 30), program.get("per_week", 1 << 30)
        if count_posts(posted_at, now).would_exceed(adding, *limits):
            raise ProblemError(
                ErrorCode.RATE_LIMITED,
                "the program's posting limit is reached",
                extra={"reason": "posting_limit"},
            )

    async def _require_account(self, tenant: str, advocate: str, network: str) -> None:
        try:
            await self._accounts.usable(tenant, advocate, network)
        except AccountUnusable as error:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"the {network} account cannot post: {error.reason}",
                extra={"reason": error.reason, "network": network},
            ) from error

    async def _tracked(
        self, tenant: str, advocate: str, share_id: str, network: str, content: ContentApproved
    ) -> str:
        return await self._links.link_for(
            tenant=tenant,
            advocate=advocate,
            share_id=share_id,
            network=network_pb(network),
            content_id=content.content_id,
            url=content.url,
        )

    @staticmethod
    def _work(tenant: str, advocate: str, share_id: str, network: str) -> Document:
        return outbox_entry(
            SHARE_REQUESTED,
            advocate_key(tenant, advocate),
            ShareRequested(
                tenant=tenant, advocate=advocate, share_id=share_id, network=network_pb(network)
            ),
        )

    async def share(self, principal: Principal, share_id: str) -> Document:
        share = await self._store.share(share_id)
        if (
            share is None
            or share["tenant"] != principal.tenant
            or (share["advocate"] != principal.subject and not principal.has_role(Role.ADMIN))
        ):
            raise not_found(f"share {share_id!r}")
        return share

    async def confirm_intent(self, principal: Principal, share_id: str, network: str) -> Document:
        share = await self.share(principal, share_id)
        entry = share["networks"].get(network)
        if entry is None:
            raise not_found(f"{network} in share {share_id!r}")
        if entry["status"] == Status.POSTED.value:
            return share  # confirming twice changes nothing
        if entry["status"] != Status.INTENT_PENDING.value:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"nothing to confirm on {network}",
                extra={"current_state": entry["status"]},
            )
        now = self._now()
        event = self._performed(share, network, SHARE_MODE_INTENT, "", entry["tracked_url"], now)
        await self._store.move(
            share_id,
            network,
            Status.INTENT_PENDING.value,
            {"status": Status.POSTED.value, "performed_at": now},
            [event],
        )
        return await self.share(principal, share_id)

    def _performed(
        self,
        share: Document,
        network: str,
        mode: int,
        post_ref: str,
        tracked_url: str,
        now: datetime,
    ) -> Document:
        code = tracked_url.rsplit("/", 1)[-1]
        return outbox_entry(
            SHARE_PERFORMED,
            advocate_key(share["tenant"], share["advocate"]),
            SharePerformed(
                tenant=share["tenant"],
                advocate=share["advocate"],
                share_id=share["_id"],
                content_id=share["content_id"],
                network=network_pb(network),
                mode=mode,  # type: ignore[arg-type]
                post_ref=post_ref,
                tracked_link_code=code,
                requested_at=timestamp(share["created_at"]),
                performed_at=timestamp(now),
            ),
        )

    def _failed(self, share: Document, network: str, reason_code: str, reason: str) -> Document:
        return outbox_entry(
            SHARE_FAILED,
            advocate_key(share["tenant"], share["advocate"]),
            ShareFailed(
                tenant=share["tenant"],
                advocate=share["advocate"],
                share_id=share["_id"],
                content_id=share["content_id"],
                network=network_pb(network),
                reason_code=reason_code,
                reason=reason,
                failed_at=timestamp(self._now()),
            ),
        )

    # The posting worker ------------------------------------------------------------
    async def on_share_requested(self, work: ShareRequested, event: Envelope) -> None:
        network = network_name(work.network)
        share = await self._store.share(work.share_id)
        if share is None or network not in share["networks"]:
            return
        entry = share["networks"][network]
        status = Status(entry["status"])
        if status in FINAL or status in (Status.INTENT_PENDING, Status.SCHEDULED):
            return  # done already (a redelivery), or not for the worker
        await self._post(share, network, entry, status)

    async def _fail(
        self, share: Document, network: str, status: Status, code: str, reason: str
    ) -> None:
        self._posts.labels(network, "failed").inc()
        await self._store.move(
            share["_id"],
            network,
            status.value,
            {"status": Status.FAILED.value, "failure": f"{code}: {reason}"},
            [self._failed(share, network, code, reason)],
        )

    async def _post(self, share: Document, network: str, entry: Document, status: Status) -> None:
        tenant, advocate = share["tenant"], share["advocate"]
        found = await self._copies.get(tenant, share["content_id"])
        if found is None or found[1]:
            await self._fail(share, network, status, "content_retracted", "the item was withdrawn")
            return
        member = await self._store.advocate(tenant, advocate)
        if member is None or not member.get("enrolled"):
            # Opted out (or erased) after the share was queued: never post for them.
            await self._fail(
                share, network, status, "not_enrolled", "the advocate left the program"
            )
            return
        content = found[0]
        try:
            account = await self._accounts.usable(tenant, advocate, network)
        except AccountUnusable as error:
            await self._fail(
                share,
                network,
                status,
                error.reason,
                f"the {network} account cannot post; reconnect it",
            )
            return
        tracked = entry.get("tracked_url") or await self._tracked(
            tenant, advocate, share["_id"], network, content
        )
        platform = self._platforms[network]
        if entry.get("attempted") and await self._reconciled(
            share, network, status, account, tracked
        ):
            return  # an earlier attempt (before a crash) did reach the platform
        program = await self._program(tenant)
        text = post_text(
            entry["commentary"],
            tracked,
            program.get("disclosure", ""),
            program.get("auto_append", False),
        )
        limiter = self._limiters[network]
        attempt = int(entry.get("attempts", 0))
        while True:
            if not await self._budget_allows(share, network, status, limiter, advocate):
                return  # deferred until the budget allows; the record is done
            attempt += 1
            # Claims the post (compare-and-set on the status) and records that a
            # request may leave, in one write: from here on, reconcile before posting.
            claimed = await self._store.move(
                share["_id"],
                network,
                status.value,
                {
                    "status": Status.POSTING.value,
                    "attempted": True,
                    "attempts": attempt,
                    "tracked_url": tracked,
                },
            )
            if not claimed:
                return  # another worker has it
            status = Status.POSTING
            result = await platform.post(
                account.access_token, account.member_id, text, tracked, content.title
            )
            outcome = classify(result.answer)
            self._posts.labels(network, outcome.value).inc()
            if outcome is Outcome.POSTED:
                await self._posted(share, network, status, result.post_ref, tracked)
                return
            if outcome is Outcome.AMBIGUOUS:
                await asyncio.sleep(self._timeouts.settle_seconds)
                if await self._reconciled(share, network, status, account, tracked):
                    return
                continue  # nothing carries this share's link: the platform made no post
            if outcome is Outcome.RATE_LIMITED:
                limiter.backoff(advocate, result.reset_at, app_wide=True)
                await self._defer(share, network, status, result.reset_at)
                return
            if outcome is Outcome.UNAUTHORIZED:
                doc = await self._store.account(tenant, advocate, network)
                refreshed = await self._accounts.refresh(doc) if doc else None
                if refreshed is not None:
                    account = await self._accounts.usable(tenant, advocate, network)
                    continue
                await self._accounts.mark(tenant, advocate, network, revoked=False)
                await self._fail(share, network, status, "account_expired", result.reason)
                return
            if outcome is Outcome.REJECTED or not self._retry.should_retry(attempt):
                code = "rejected" if outcome is Outcome.REJECTED else "retries_exhausted"
                await self._fail(share, network, status, code, result.reason or "no answer")
                return
            await self._defer(share, network, status, time.time() + self._retry.delay(attempt))
            return

    async def _budget_allows(
        self, share: Document, network: str, status: Status, limiter: Limiter, advocate: str
    ) -> bool:
        """Take a token now, waiting briefly; defer the post when the wait is long,
        so that no record holds a consumer lane through a rate-limit window."""
        while not limiter.take(advocate, time.time()):
            pause = limiter.wait_time(advocate, time.time())
            if pause > self._timeouts.max_inline_wait:
                await self._defer(share, network, status, time.time() + pause)
                return False
            self._rate_waits.labels(network).inc(pause)
            await asyncio.sleep(pause)
        return True

    async def _defer(self, share: Document, network: str, status: Status, until: float) -> None:
        """Back to the scheduler: released as new work once `until` has passed."""
        not_before = datetime.fromtimestamp(until, UTC)
        self._rate_waits.labels(network).inc(max(0.0, until - time.time()))
        await self._store.move(
            share["_id"],
            network,
            status.value,
            {"status": Status.SCHEDULED.value, "not_before": not_before},
            share_fields={"scheduled": True},
        )

    async def _reconciled(
        self, share: Document, network: str, status: Status, account: Any, tracked: str
    ) -> bool:
        """Look for the post carrying this share's unique tracked link; until the
        platform answers, nothing is posted again."""
        while True:
            try:
                post_ref = await self._platforms[network].find_post(
                    account.access_token, account.member_id, tracked
                )
                break
            except Exception:
                log.warning("reconciling failed; looking again", extra={"share": share["_id"]})
                await asyncio.sleep(self._timeouts.settle_seconds)
        if post_ref is None:
            return False
        self._posts.labels(network, "reconciled").inc()
        await self._posted(share, network, status, post_ref, tracked)
        return True

    async def _posted(
        self, share: Document, network: str, status: Status, post_ref: str, tracked: str
    ) -> None:
        now = self._now()
        event = self._performed(share, network, SHARE_MODE_API, post_ref, tracked, now)
        await self._store.move(
            share["_id"],
            network,
            status.value,
            {"status": Status.POSTED.value, "post_ref": post_ref, "performed_at": now},
            [event],
        )

    # Auto-share fan-out ----------------------------------------------------------
    async def on_content_approved(self, content: ContentApproved, event: Envelope) -> None:
        await self._copies.save_approved(content, event.time)
        found = await self._copies.get(content.tenant, content.content_id)
        if found is not None and found[1]:
            return  # retracted already (the control consumer runs ahead): no fan-out
        audience = Audience(
            tuple(content.audience.groups),
            tuple(content.audience.departments),
            tuple(content.audience.locations),
            tuple(content.audience.languages),
        )
        program = await self._store.program(content.tenant)
        sharers = [
            doc
            for doc in await self._store.auto_sharers(content.tenant)
            if is_targeted(
                audience,
                Profile(
                    tuple(doc.get("groups", [])),
                    doc.get("department", ""),
                    doc.get("location", ""),
                    tuple(doc.get("languages", [])),
                ),
                (),
            )
        ]
        slots = asyncio.Semaphore(32)

        async def prepare(doc: Document) -> tuple[Document, list[Document]] | None:
            async with slots:
                return await self._auto_share(content, doc["advocate"], program)

        # One unordered bulk insert per chunk of advocates: few round trips, and
        # a frequency check is never more than one chunk older than its insert.
        # A redelivered approval finds its shares there already (same ids).
        for start in range(0, len(sharers), FAN_OUT_CHUNK):
            chunk = sharers[start : start + FAN_OUT_CHUNK]
            prepared = await asyncio.gather(*(prepare(doc) for doc in chunk))
            await self._store.insert_shares([share for share in prepared if share is not None])

    async def _auto_share(
        self, content: ContentApproved, advocate: str, program: Document
    ) -> tuple[Document, list[Document]] | None:
        """The auto-share of `content` for `advocate` and its posting work, or
        None when the advocate cannot share it now."""
        tenant = content.tenant
        share_id = f"auto-{content.content_id}-{advocate}"
        try:
            await self._check_advocate(tenant, advocate, program)
            await self._check_frequency(tenant, advocate, program, self._now(), adding=1)
            networks = {}
            events = []
            for network in (Network.LINKEDIN.value, Network.X.value):  # API-made posts only
                try:
                    await self._accounts.usable(tenant, advocate, network)
                except AccountUnusable:
                    continue
                networks[network] = {
                    "mode": "api",
                    "status": Status.QUEUED.value,
                    "commentary": _suggested(content, network, advocate),
                    "tracked_url": "",
                    "post_ref": "",
                    "failure": "",
                }
                events.append(self._work(tenant, advocate, share_id, network))
        except ProblemError:
            return None
        if not networks:
            return None
        share = {
            "_id": share_id,
            "tenant": tenant,
            "advocate": advocate,
            "content_id": content.content_id,
            "created_at": self._now(),
            "scheduled_at": None,
            "scheduled": False,
            "auto": True,
            "networks": networks,
        }
        return share, events

    # Retraction ------------------------------------------------------------------
    async def on_content_retracted(self, retracted: ContentRetracted, event: Envelope) -> None:
        await self._copies.mark_retracted(retracted.tenant, retracted.content_id, event.time)
        for share in await self._store.shares_of_content(retracted.tenant, retracted.content_id):
            for network, entry in share["networks"].items():
                await self._withdraw(share, network, Status(entry["status"]), entry)

    async def _withdraw(
        self, share: Document, network: str, status: Status, entry: Document
    ) -> None:
        if status in (Status.SCHEDULED, Status.INTENT_PENDING, Status.QUEUED):
            await self._fail(share, network, status, "content_retracted", "the item was withdrawn")
            return
        if status is not Status.POSTED or entry["mode"] != "api" or not entry.get("post_ref"):
            return
        try:
            account = await self._accounts.usable(share["tenant"], share["advocate"], network)
            result = await self._platforms[network].delete(account.access_token, entry["post_ref"])
            deleted = result.answer.status is not None and (
                200 <= result.answer.status < 300 or result.answer.status == 404
            )
            reason = result.reason
        except AccountUnusable as error:
            deleted, reason = False, error.reason
        await self._store.move(
            share["_id"],
            network,
            status.value,
            {
                "status": (Status.DELETED if deleted else Status.DELETE_FAILED).value,
                "failure": "" if deleted else f"delete failed: {reason}",
            },
        )

    # Scheduled shares --------------------------------------------------------------
    async def release_due(self) -> int:
        """Queue scheduled shares and deferred retries whose time has come."""
        released = 0
        now = self._now()
        for share in await self._store.scheduled_shares():
            waiting = False
            for network, entry in share["networks"].items():
                if entry["status"] != Status.SCHEDULED.value:
                    continue
                due_at = entry.get("not_before") or share.get("scheduled_at")
                if due_at is not None and due_at > now:
                    waiting = True
                    continue
                if await self._store.move(
                    share["_id"],
                    network,
                    Status.SCHEDULED.value,
                    {"status": Status.QUEUED.value},
                    [self._work(share["tenant"], share["advocate"], share["_id"], network)],
                ):
                    released += 1
            if not waiting:
                await self._store.unschedule(share["_id"], list(share["networks"]))
        return released


def _suggested(content: ContentApproved, network: str, advocate: str) -> str:
    """One of the item's suggested commentaries for the network, varied by advocate
    so that posts do not all look the same."""
    options = [c.text for c in content.commentaries if network_name(c.network) == network]
    if not options:
        return content.title
    return options[sum(map(ord, advocate)) % len(options)]
