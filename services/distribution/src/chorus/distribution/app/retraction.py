"""Retraction: a withdrawn item is never posted again, and what was posted
through the API is deleted from the platform."""

from __future__ import annotations

from collections.abc import Mapping

from chorus.contracts.content.v1.events_pb2 import ContentRetracted
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.platforms import Platform
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.app.accounts import Accounts, AccountUnusable
from chorus.distribution.app.share_moves import ShareMoves
from chorus.distribution.domain.model import Mode, Share
from chorus.distribution.domain.sharing import Status
from chorus.kit.envelope import Envelope
from chorus.kit.networks import Network

NOT_YET_POSTED = (Status.SCHEDULED, Status.INTENT_PENDING, Status.QUEUED)


class Retraction:
    def __init__(
        self,
        store: DistributionStore,
        copies: ContentCopies,
        accounts: Accounts,
        platforms: Mapping[Network, Platform],
        moves: ShareMoves,
    ) -> None:
        self._store = store
        self._copies = copies
        self._accounts = accounts
        self._platforms = platforms
        self._moves = moves

    async def on_content_retracted(self, retracted: ContentRetracted, event: Envelope) -> None:
        await self._copies.mark_retracted(retracted.tenant, retracted.content_id, event.time)
        for share in await self._store.shares_of_content(retracted.tenant, retracted.content_id):
            for network in share.networks:
                await self._withdraw(share, network)

    async def _withdraw(self, share: Share, network: Network) -> None:
        entry = share.networks[network]
        if entry.status in NOT_YET_POSTED:
            await self._moves.fail(
                share, network, entry.status, "content_retracted", "the item was withdrawn"
            )
            return
        if entry.status is not Status.POSTED or entry.mode is not Mode.API or not entry.post_ref:
            return
        try:
            account = await self._accounts.usable(share.tenant, share.advocate, network)
            result = await self._platforms[network].delete(account.access_token, entry.post_ref)
            answer = result.answer.status
            deleted = answer is not None and (200 <= answer < 300 or answer == 404)
            reason = result.reason
        except AccountUnusable as error:
            deleted, reason = False, error.reason
        await self._store.move(
            share.id,
            network,
            entry.status,
            Status.DELETED if deleted else Status.DELETE_FAILED,
            failure="" if deleted else f"delete failed: {reason}",
        )
