"""An advocate's own shares, newest first, each with the title of what was
shared (from distribution's copy of approved content)."""

from __future__ import annotations

from dataclasses import dataclass

from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.domain.model import Share
from chorus.kit.auth import Principal
from chorus.kit.pagination import MAX_PAGE, decode_cursor, encode_cursor


@dataclass(frozen=True)
class SharePage:
    shares: list[Share]
    titles: dict[str, str]  # content id → title; an item never approved has none
    next_cursor: str | None


class ShareHistory:
    def __init__(self, store: DistributionStore, copies: ContentCopies) -> None:
        self._store = store
        self._copies = copies

    async def page(self, principal: Principal, cursor: str | None, limit: int) -> SharePage:
        """The caller's shares: anyone signed in has a history, possibly empty."""
        after = decode_cursor(cursor, dates=("created_at",), required=("id",))
        limit = max(1, min(limit, MAX_PAGE))
        found = await self._store.shares_page(principal.tenant, principal.subject, after, limit + 1)
        shares = found[:limit]
        titles = await self._copies.titles(principal.tenant, sorted({s.content_id for s in shares}))
        next_cursor = None
        if len(found) > limit:
            last = shares[-1]
            next_cursor = encode_cursor({"created_at": last.created_at, "id": last.id})
        return SharePage(shares, titles, next_cursor)
