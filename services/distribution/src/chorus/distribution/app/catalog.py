"""Use cases over distribution's copy of approved content."""

from __future__ import annotations

from dataclasses import dataclass

from chorus.contracts.content.v1.events_pb2 import ContentApproved, ContentRetracted
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.kit.auth import Principal
from chorus.kit.envelope import Envelope
from chorus.kit.errors import not_found


@dataclass(frozen=True)
class SharableContent:
    content: ContentApproved
    retracted: bool


class Catalog:
    def __init__(self, copies: ContentCopies) -> None:
        self._copies = copies

    async def on_content_approved(self, event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        await self._copies.save_approved(event.message, event.time)

    async def on_content_retracted(self, event: Envelope) -> None:
        assert isinstance(event.message, ContentRetracted)
        await self._copies.mark_retracted(
            event.message.tenant, event.message.content_id, event.time
        )

    async def sharable_content(self, principal: Principal, content_id: str) -> SharableContent:
        found = await self._copies.get(principal.tenant, content_id)
        if found is None:
            raise not_found(f"content {content_id!r}")
        return SharableContent(*found)
