"""Use cases over distribution's copy of approved content."""

from __future__ import annotations

from dataclasses import dataclass

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.kit.auth import Principal
from chorus.kit.errors import not_found


@dataclass(frozen=True)
class SharableContent:
    content: ContentApproved
    retracted: bool


class Catalog:
    def __init__(self, copies: ContentCopies) -> None:
        self._copies = copies

    async def sharable_content(self, principal: Principal, content_id: str) -> SharableContent:
        found = await self._copies.get(principal.tenant, content_id)
        if found is None:
            raise not_found(f"content {content_id!r}")
        return SharableContent(*found)
