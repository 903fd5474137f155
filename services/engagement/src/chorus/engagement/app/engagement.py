"""The engagement service's use cases, shared by REST, gRPC and the consumers."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from chorus.contracts.common.v1.common_pb2 import SHARE_MODE_API
from chorus.contracts.content.v1.events_pb2 import ContentApproved, ContentRetracted
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1 import events_pb2 as ev
from chorus.engagement.adapters.journal import ClickJournal
from chorus.engagement.adapters.platforms import MetricsReader, PostGone, RateLimited
from chorus.engagement.adapters.store import ContentLink, Count, EngagementStore, Link
from chorus.engagement.domain import clicks, links, polling, webhooks
from chorus.kit.auth import Principal, Role
from chorus.kit.envelope import Envelope, messages, timestamp, utc_moment
from chorus.kit.errors import ErrorCode, ProblemError, Violation
from chorus.kit.fields import ID_MAX_LENGTH
from chorus.kit.networks import Network, network_name, network_pb
from chorus.kit.outbox import outbox_entry
from chorus.kit.pagination import MAX_PAGE
from chorus.kit.topics import ENGAGEMENT_OBSERVED, advocate_key
from chorus.kit.validation import require_text, validated, violations_from

log = logging.getLogger(__name__)

KINDS = {
    "click": ev.ENGAGEMENT_KIND_CLICK,
    "unique_click": ev.ENGAGEMENT_KIND_UNIQUE_CLICK,
    "reaction": ev.ENGAGEMENT_KIND_REACTION,
    "comment": ev.ENGAGEMENT_KIND_COMMENT,
    "reshare": ev.ENGAGEMENT_KIND_RESHARE,
    "impression": ev.ENGAGEMENT_KIND_IMPRESSION,
}
KIND_NAMES = {number: name for name, number in KINDS.items()}
LINK_CACHE_SECONDS = 2.0


class ShareIds(BaseModel):
    share_ids: list[Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH)]] = Field(
        min_length=1, max_length=MAX_PAGE
    )


@dataclass(frozen=True)
class Redirect:
    """What GET /r/{code} answers: `target` for a redirect, else why not."""

    target: str | None
    outcome: str  # "redirect", "not_found", "retracted"
    counted: bool = False


class WebhookEvent(BaseModel):
    event_id: str = Field(min_length=1, max_length=200)
    share_id: str = Field(min_length=1, max_length=200)
    network: str = Field(pattern="^(linkedin|x|facebook)$")
    kind: str = Field(pattern="^(reaction|comment|reshare|impression)$")
    delta: int = Field(ge=1, le=1_000_000)
    observed_at: datetime | None = None


def observation(
    share: Mapping[str, Any],
    event_id: str,
    kind: str,
    delta: int,
    source: ev.EngagementSource.ValueType,
    at: datetime,
) -> ev.EngagementObserved:
    """`share`: a tracked link's or a poll target's fields (tenant, advocate, share...)."""
    return ev.EngagementObserved(
        tenant=share["tenant"],
        advocate=share["advocate"],
        observation_id=event_id,
        kind=KINDS[kind],
        delta=delta,
        share_id=share["share_id"],
        content_id=share["content_id"],
        network=network_pb(share["network"]),
        source=source,
        observed_at=timestamp(at),
    )


class EngagementApp:
    def __init__(
        self,
        store: EngagementStore,
        journal: ClickJournal,
        reader: MetricsReader,
        *,
        public_base_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._journal = journal
        self._reader = reader
        self._base = public_base_url.rstrip("/")
        self._now = clock
        self._links: dict[str, tuple[float, Link | None]] = {}
        self._salts: dict[date, bytes] = {}
        self._paused_until: dict[str, float] = {}

    # Tracked links -----------------------------------------------------------
    def short_url(self, code: str) -> str:
        return f"{self._base}/r/{code}"

    async def create_link(
        self,
        principal: Principal,
        *,
        share_id: str,
        network: str,
        content_id: str,
        advocate: str,
        url: str,
    ) -> Link:
        """Idempotent per (share, network). Advocates create links for themselves;
        services (distribution) for the advocate they act for."""
        principal.require_role(Role.ADVOCATE, Role.SERVICE)
        if not principal.has_role(Role.SERVICE):
            advocate = principal.subject
        problems = [
            Violation(name, "required")
            for name, value in (
                ("share_id", share_id),
                ("content_id", content_id),
                ("advocate", advocate),
            )
            if not value
        ]
        if network not in set(Network):
            problems.append(Violation("network", "one of linkedin, x, facebook"))
        if not url.startswith(("http://", "https://")):
            problems.append(Violation("url", "must be an http(s) URL"))
        if problems:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED, "the link request is not valid", problems
            )
        # Never an open redirect: a company short link goes to its item's own page.
        live_url = await self._store.live_content_url(principal.tenant, content_id, self._now())
        if live_url is None:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"no live content item {content_id!r} in this tenant",
                extra={"reason": "content_not_live"},
            )
        if url != live_url:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "a tracked link points at its content item's URL",
                [Violation("url", f"must be the item's URL, {live_url!r}")],
            )
        settings = await self._store.tenant_settings(principal.tenant)
        target = links.tracked_target(
            url, network=network, content_id=content_id, extras=settings.get("utm_extras", {})
        )
        return await self._store.create_link(
            Link(
                links.new_code(), principal.tenant, share_id, network, content_id, advocate, target
            )
        )

    async def set_utm_extras(self, principal: Principal, extras: dict[str, str]) -> None:
        principal.require_role(Role.ADMIN)
        await self._store.set_tenant_settings(principal.tenant, {"utm_extras": extras})

    async def set_webhook_secret(self, principal: Principal, secret: str) -> None:
        principal.require_role(Role.ADMIN)
        await self._store.set_tenant_settings(principal.tenant, {"webhook_secret": secret})

    # Redirects ---------------------------------------------------------------
    async def _cached_link(self, code: str) -> Link | None:
        now = time.monotonic()
        cached = self._links.get(code)
        if cached and now - cached[0] < LINK_CACHE_SECONDS:
            return cached[1]
        link = await self._store.link(code) if links.is_code(code) else None
        if len(self._links) > 100_000:
            self._links.clear()
        self._links[code] = (now, link)
        return link

    async def _salt(self, day: date) -> bytes:
        if day not in self._salts:
            self._salts = {d: s for d, s in self._salts.items() if d >= day - timedelta(days=1)}
            self._salts[day] = await self._store.salt(day)
        return self._salts[day]

    async def redirect(
        self, code: str, method: str, headers: Mapping[str, str], client_address: str
    ) -> Redirect:
        """Answer fast; a counted click is on disk (journal) before we answer."""
        link = await self._cached_link(code)
        if link is None:
            return Redirect(None, "not_found")
        if link.retracted:
            return Redirect(None, "retracted")
        if not clicks.counts_as_click(method, headers):
            return Redirect(link.target, "redirect")
        now = self._now()
        agent = headers.get("user-agent", "")
        today = now.date()
        visitors = [
            clicks.visitor_hash(await self._salt(day), client_address, agent)
            for day in (today, today - timedelta(days=1))
        ]
        await self._journal.append(
            {
                "click_id": uuid.uuid4().hex,
                "code": code,
                "tenant": link.tenant,
                "share_id": link.share_id,
                "network": link.network,
                "content_id": link.content_id,
                "advocate": link.advocate,
                "at": now.isoformat(),
                "visitors": visitors,
            }
        )
        return Redirect(link.target, "redirect", counted=True)

    async def is_unique(self, record: Mapping[str, Any]) -> bool:
        return await self._store.first_click(
            str(record["code"]),
            list(record["visitors"]),
            str(record["click_id"]),
            datetime.fromisoformat(str(record["at"])),
        )

    # Consumers -----------------------------------------------------------------
    async def on_engagement_observed(self, events: Sequence[Envelope]) -> None:
        """Totals per share, content item and advocate (the query read model)."""
        counts = []
        for event, message in zip(events, messages(events, ev.EngagementObserved), strict=True):
            tenant = message.tenant
            keys = (
                f"share:{tenant}:{message.share_id}",
                f"content:{tenant}:{message.content_id}",
                f"advocate:{tenant}:{message.advocate}",
            )
            kind = KIND_NAMES.get(message.kind, "unspecified")
            counts.append(Count(event.id, keys, kind, message.delta))
        await self._store.add_to_totals(counts)

    async def on_shares_performed(self, events: Sequence[Envelope]) -> None:
        """API-made posts get their metrics polled on a decaying schedule."""
        targets = []
        for share in messages(events, SharePerformed):
            if share.mode != SHARE_MODE_API or not share.post_ref:
                continue
            network = network_name(share.network)
            performed_at = utc_moment(share.performed_at)
            first = polling.next_poll_at(performed_at, 0)
            assert first is not None
            targets.append(
                {
                    "_id": f"{share.tenant}:{share.share_id}:{network}",
                    "tenant": share.tenant,
                    "advocate": share.advocate,
                    "share_id": share.share_id,
                    "content_id": share.content_id,
                    "network": network,
                    "post_ref": share.post_ref,
                    "performed_at": performed_at,
                    "polls_done": 0,
                    "counted": {},
                    "next_poll_at": first,
                    "due": True,
                }
            )
        await self._store.add_poll_targets(targets)

    async def on_content_approved(self, events: Sequence[Envelope]) -> None:
        """What tracked links may point at: each approved item's own URL."""
        await self._store.save_content_links(
            [
                ContentLink(
                    item.tenant,
                    item.content_id,
                    item.url,
                    utc_moment(item.expires_at) if item.HasField("expires_at") else None,
                )
                for item in messages(events, ContentApproved)
            ]
        )

    async def on_content_retracted(self, message: ContentRetracted, event: Envelope) -> None:
        await self._store.retract_content(message.tenant, message.content_id)
        self._links.clear()  # this replica stops redirecting at once

    # Polling -------------------------------------------------------------------
    async def poll_due(self) -> int:
        """Poll every due target once; returns how many delta events were written."""
        written = 0
        now = self._now()
        for target in await self._store.due_poll_targets(now):
            network = target["network"]
            if not self._reader.can_read(network):
                await self._store.record_poll(
                    target["_id"], target["polls_done"], target["counted"], None, []
                )
                continue
            if self._paused_until.get(network, 0) > time.time():
                continue
            try:
                observed = await self._reader.totals(network, target["post_ref"])
            except RateLimited as limited:
                self._paused_until[network] = limited.reset_at
                log.warning(
                    "polling paused by rate limit",
                    extra={"network": network, "until": limited.reset_at},
                )
                continue
            except PostGone:
                await self._store.record_poll(
                    target["_id"], target["polls_done"], target["counted"], None, []
                )
                continue
            events = []
            for kind, delta in polling.deltas(target["counted"], observed).items():
                # Deterministic ids: the same total is never announced twice.
                event_id = f"poll:{target['_id']}:{kind}:{observed[kind]}"
                event = observation(target, event_id, kind, delta, ev.ENGAGEMENT_SOURCE_POLL, now)
                key = advocate_key(target["tenant"], target["advocate"])
                events.append({**outbox_entry(ENGAGEMENT_OBSERVED, key, event), "id": event_id})
            next_at = polling.next_poll_at(target["performed_at"], target["polls_done"] + 1)
            if await self._store.record_poll(
                target["_id"],
                target["polls_done"],
                polling.merged(target["counted"], observed),
                next_at,
                events,
            ):
                written += len(events)
        return written

    # Webhooks ------------------------------------------------------------------
    async def webhook(
        self, tenant: str, timestamp: str | None, signature: str | None, body: bytes
    ) -> bool:
        """Record one signed observation from an integrator; False if already recorded."""
        secret = (await self._store.tenant_settings(tenant)).get("webhook_secret")
        if not secret:
            raise ProblemError(ErrorCode.UNAUTHENTICATED, "no webhook secret for this tenant")
        try:
            webhooks.verify(secret, timestamp, body, signature, time.time())
        except webhooks.BadSignature as error:
            raise ProblemError(ErrorCode.UNAUTHENTICATED, str(error)) from error
        try:
            document = json.loads(body)
            require_text(document)
            payload = WebhookEvent.model_validate(document)
        except (ValueError, ValidationError) as error:
            violations = (
                violations_from(error.errors())
                if isinstance(error, ValidationError)
                else [Violation("body", "must be a JSON object")]
            )
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED, "the webhook body is not valid", violations
            ) from error
        link = await self._store.link_for(tenant, payload.share_id, payload.network)
        if link is None:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "unknown share for this tenant",
                [Violation("share_id", "no tracked link for this share")],
            )
        event_id = f"webhook:{tenant}:{payload.event_id}"
        observed_at = payload.observed_at or self._now()
        event = observation(
            vars(link),
            event_id,
            payload.kind,
            payload.delta,
            ev.ENGAGEMENT_SOURCE_WEBHOOK,
            observed_at,
        )
        key = advocate_key(tenant, link.advocate)
        entry = {**outbox_entry(ENGAGEMENT_OBSERVED, key, event), "id": event_id}
        recorded = await self._store.record_webhook(
            event_id, {"tenant": tenant, "received_at": self._now()}, [entry]
        )
        return recorded

    # Queries -----------------------------------------------------------------
    async def totals(self, principal: Principal, scope: str, identifier: str) -> dict[str, int]:
        if scope == "advocate" and identifier != principal.subject:
            principal.require_role(Role.ADMIN, Role.CURATOR, Role.APPROVER)
        return await self._store.totals(f"{scope}:{principal.tenant}:{identifier}")

    async def share_totals(
        self, principal: Principal, share_ids: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """Each share's totals, in one read (a share without any: empty)."""
        asked = validated(ShareIds, {"share_ids": list(share_ids)}).share_ids
        keys = {f"share:{principal.tenant}:{share_id}": share_id for share_id in asked}
        found = await self._store.totals_of(list(keys))
        return {share_id: found.get(key, {}) for key, share_id in keys.items()}
