"""Share requests: an advocate asks to share an item on some networks (now,
or at a moment), reads a share, and confirms an intent they posted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.adapters.tracked_links import TrackedLinks
from chorus.distribution.app import share_events
from chorus.distribution.app.eligibility import Eligibility, suggested
from chorus.distribution.app.share_moves import ShareMoves
from chorus.distribution.domain.model import Mode, NetworkShare, Share
from chorus.distribution.domain.posts import intent_url, post_text
from chorus.distribution.domain.sharing import Status
from chorus.kit.auth import Principal, Role
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.mongo import Document
from chorus.kit.networks import Network


@dataclass(frozen=True)
class ShareTarget:
    network: Network
    commentary: str | None = None


class ShareRequests:
    def __init__(
        self,
        store: DistributionStore,
        eligibility: Eligibility,
        links: TrackedLinks,
        moves: ShareMoves,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._eligibility = eligibility
        self._links = links
        self._moves = moves
        self._now = clock

    async def set_x_mode(self, principal: Principal, mode: Mode) -> None:
        """Whether X shares post through the API or through X's dialog."""
        principal.require_role(Role.ADMIN)
        await self._store.set_x_mode(principal.tenant, mode)

    async def request_share(
        self,
        principal: Principal,
        content_id: str,
        targets: Sequence[ShareTarget],
        scheduled_at: datetime | None,
        idempotency_key: str | None,
    ) -> Share:
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
        if not targets or len(set(networks)) != len(networks):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "name each network once",
                [Violation("targets", "one or more of linkedin, x, facebook")],
            )
        now = self._now()
        when = scheduled_at if scheduled_at and scheduled_at > now else None
        rules = await self._store.program(tenant)
        await self._eligibility.check_advocate(tenant, advocate, rules)
        content = await self._eligibility.live_content(tenant, content_id, when or now)
        await self._eligibility.check_frequency(tenant, advocate, rules, adding=len(targets))
        x_mode = await self._store.x_mode(tenant)
        share = Share(
            id=share_id,
            tenant=tenant,
            advocate=advocate,
            content_id=content_id,
            created_at=now,
            scheduled_at=when,
            scheduled=when is not None,
            networks={},
        )
        events: list[Document] = []
        for target in targets:
            network = target.network
            intent = network == Network.FACEBOOK or (network == Network.X and x_mode is Mode.INTENT)
            commentary = target.commentary or suggested(content, network, advocate)
            if intent:
                tracked = await self._links.link_for(share, network, content.url)
                text = post_text(commentary, "", rules.disclosure, rules.auto_append)
                share.networks[network] = NetworkShare(
                    Mode.INTENT,
                    Status.INTENT_PENDING,
                    commentary,
                    tracked_url=tracked,
                    intent_url=intent_url(network, tracked, text),
                )
            else:
                await self._eligibility.require_account(tenant, advocate, network)
                status = Status.SCHEDULED if when else Status.QUEUED
                share.networks[network] = NetworkShare(Mode.API, status, commentary)
                if not when:
                    events.append(share_events.requested(share, network))
        if not await self._store.insert_share(share, events):
            # The same key reached another replica (or request) at the same
            # moment and its share was stored first: that one is the answer.
            if idempotency_key and (existing := await self._store.share(share_id)) is not None:
                return existing
            raise ProblemError(ErrorCode.CONFLICT, "this share already exists")
        return share

    async def share(self, principal: Principal, share_id: str) -> Share:
        share = await self._store.share(share_id)
        if (
            share is None
            or share.tenant != principal.tenant
            or (share.advocate != principal.subject and not principal.has_role(Role.ADMIN))
        ):
            raise not_found(f"share {share_id!r}")
        return share

    async def confirm_intent(self, principal: Principal, share_id: str, network: Network) -> Share:
        share = await self.share(principal, share_id)
        entry = share.networks.get(network)
        if entry is None:
            raise not_found(f"{network} in share {share_id!r}")
        if entry.status is Status.POSTED:
            return share  # confirming twice changes nothing
        if entry.status is not Status.INTENT_PENDING:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"nothing to confirm on {network}",
                extra={"current_state": entry.status.value},
            )
        await self._moves.posted(share, network, entry.status, "", entry.tracked_url)
        return await self.share(principal, share_id)
