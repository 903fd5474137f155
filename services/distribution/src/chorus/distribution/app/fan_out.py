"""Auto-share fan-out: an approved item is shared for every advocate who asked
for auto-sharing and is in its audience, on each network they can post to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.app import share_events
from chorus.distribution.app.accounts import Accounts, AccountUnusable
from chorus.distribution.app.eligibility import Eligibility, check_member, suggested
from chorus.distribution.domain.model import Member, Mode, NetworkShare, PostingRules, Share
from chorus.distribution.domain.sharing import Status
from chorus.kit.envelope import Envelope
from chorus.kit.errors import ProblemError
from chorus.kit.mongo import Document
from chorus.kit.networks import Network
from chorus.kit.targeting import Audience, Profile, is_targeted

# Auto-shares prepared (checked) and then inserted together in one bulk write.
FAN_OUT_CHUNK = 500
# Auto-shares checked at once (each check reads the store).
CHECKS_AT_ONCE = 32
# Only networks Chorus posts to itself: an intent needs the advocate.
API_NETWORKS = (Network.LINKEDIN, Network.X)


class FanOut:
    def __init__(
        self,
        store: DistributionStore,
        copies: ContentCopies,
        accounts: Accounts,
        eligibility: Eligibility,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._copies = copies
        self._accounts = accounts
        self._eligibility = eligibility
        self._now = clock

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
        rules = await self._store.program(content.tenant)
        sharers = [
            (advocate, member)
            for advocate, member in await self._store.auto_sharers(content.tenant)
            if is_targeted(audience, _profile(member), ())
        ]
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def prepare(advocate: str, member: Member) -> tuple[Share, list[Document]] | None:
            async with slots:
                return await self._auto_share(content, advocate, member, rules)

        # One unordered bulk insert per chunk of advocates: few round trips, and
        # a frequency check is never more than one chunk older than its insert.
        # A redelivered approval finds its shares there already (same ids).
        for start in range(0, len(sharers), FAN_OUT_CHUNK):
            chunk = sharers[start : start + FAN_OUT_CHUNK]
            prepared = await asyncio.gather(*(prepare(*sharer) for sharer in chunk))
            await self._store.insert_shares([share for share in prepared if share is not None])

    async def _auto_share(
        self, content: ContentApproved, advocate: str, member: Member, rules: PostingRules
    ) -> tuple[Share, list[Document]] | None:
        """The auto-share of `content` for `advocate` and its posting work, or
        None when the advocate cannot share it now."""
        tenant = content.tenant
        try:
            check_member(member, rules)
            await self._eligibility.check_frequency(tenant, advocate, rules, adding=1)
        except ProblemError:
            return None
        share = Share(
            id=f"auto-{content.content_id}-{advocate}",
            tenant=tenant,
            advocate=advocate,
            content_id=content.content_id,
            created_at=self._now(),
            auto=True,
            networks={},
        )
        for network in API_NETWORKS:
            try:
                await self._accounts.usable(tenant, advocate, network)
            except AccountUnusable:
                continue
            commentary = suggested(content, network, advocate)
            share.networks[network] = NetworkShare(Mode.API, Status.QUEUED, commentary)
        if not share.networks:
            return None
        return share, [share_events.requested(share, network) for network in share.networks]


def _profile(member: Member) -> Profile:
    return Profile(member.groups, member.department, member.location, member.languages)
