"""The posting worker: posts one (share, network) within the platforms' rate
limits, at most once.

`posting` is written (with `attempted`) before a request leaves: a worker that
finds a network already attempted reconciles first — looks for the post
carrying the share's unique tracked link — and posts only if none is there."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter

from chorus.contracts.distribution.v1.events_pb2 import ShareRequested
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.platforms import Platform
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.adapters.tracked_links import TrackedLinks
from chorus.distribution.app.accounts import Accounts, AccountUnusable, UsableAccount
from chorus.distribution.app.share_moves import ShareMoves
from chorus.distribution.domain.model import PostingRules, Share
from chorus.distribution.domain.posts import post_text
from chorus.distribution.domain.rate_limit import Limiter
from chorus.distribution.domain.sharing import FINAL, Outcome, Status, classify
from chorus.kit.envelope import Envelope
from chorus.kit.metrics import Metrics
from chorus.kit.networks import Network, network_of
from chorus.kit.retry import RetryPolicy

log = logging.getLogger(__name__)
# How long the program's posting rules are cached (they change rarely).
RULES_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a platform that accepted a request but did not
    answer before looking again, and how long a 429 may hold a post back."""

    settle_seconds: float = 2.0
    max_inline_wait: float = 2.0


class Posting:
    def __init__(
        self,
        store: DistributionStore,
        copies: ContentCopies,
        accounts: Accounts,
        platforms: Mapping[Network, Platform],
        links: TrackedLinks,
        limiters: Mapping[Network, Limiter],
        moves: ShareMoves,
        metrics: Metrics,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._store = store
        self._copies = copies
        self._accounts = accounts
        self._platforms = platforms
        self._links = links
        self._limiters = limiters
        self._moves = moves
        self._retry = retry or RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=30)
        self._timeouts = timeouts or Timeouts()
        self._rate_waits = Counter(
            "chorus_rate_limit_wait_seconds_total",
            "Seconds posts waited for rate limits, by network.",
            ["network"],
            registry=metrics.registry,
        )
        self._rules: dict[str, tuple[float, PostingRules]] = {}

    async def _posting_rules(self, tenant: str) -> PostingRules:
        cached = self._rules.get(tenant)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        rules = await self._store.program(tenant)
        self._rules[tenant] = (time.monotonic() + RULES_CACHE_SECONDS, rules)
        return rules

    async def on_share_requested(self, work: ShareRequested, event: Envelope) -> None:
        share = await self._store.share(work.share_id)
        network = network_of(work.network)
        if share is None or network is None or network not in share.networks:
            return
        status = share.networks[network].status
        if status in FINAL or status in (Status.INTENT_PENDING, Status.SCHEDULED):
            return  # done already (a redelivery), or not for the worker
        await self._post(share, network, status)

    async def _post(self, share: Share, network: Network, status: Status) -> None:
        tenant, advocate = share.tenant, share.advocate
        entry = share.networks[network]
        found = await self._copies.get(tenant, share.content_id)
        if found is None or found[1]:
            await self._moves.fail(
                share, network, status, "content_retracted", "the item was withdrawn"
            )
            return
        member = await self._store.advocate(tenant, advocate)
        if member is None or not member.enrolled:
            # Opted out (or erased) after the share was queued: never post for them.
            await self._moves.fail(
                share, network, status, "not_enrolled", "the advocate left the program"
            )
            return
        content = found[0]
        try:
            account = await self._accounts.usable(tenant, advocate, network)
        except AccountUnusable as error:
            await self._moves.fail(
                share,
                network,
                status,
                error.reason,
                f"the {network} account cannot post; reconnect it",
            )
            return
        tracked = entry.tracked_url or await self._links.link_for(share, network, content.url)
        if entry.attempted and await self._reconciled(share, network, status, account, tracked):
            return  # an earlier attempt (before a crash) did reach the platform
        rules = await self._posting_rules(tenant)
        text = post_text(entry.commentary, tracked, rules.disclosure, rules.auto_append)
        platform = self._platforms[network]
        limiter = self._limiters[network]
        attempt = entry.attempts
        while True:
            if not await self._budget_allows(share, network, status, limiter):
                return  # deferred until the budget allows; the record is done
            attempt += 1
            # Claims the post (compare-and-set on the status) and records that a
            # request may leave, in one write: from here on, reconcile before posting.
            claimed = await self._store.move(
                share.id,
                network,
                status,
                Status.POSTING,
                attempted=True,
                attempts=attempt,
                tracked_url=tracked,
            )
            if not claimed:
                return  # another worker has it
            status = Status.POSTING
            result = await platform.post(
                account.access_token, account.member_id, text, tracked, content.title
            )
            outcome = classify(result.answer)
            self._moves.posts.labels(network, outcome.value).inc()
            if outcome is Outcome.POSTED:
                await self._moves.posted(share, network, status, result.post_ref, tracked)
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
                await self._moves.fail(share, network, status, "account_expired", result.reason)
                return
            if outcome is Outcome.REJECTED or not self._retry.should_retry(attempt):
                code = "rejected" if outcome is Outcome.REJECTED else "retries_exhausted"
                await self._moves.fail(share, network, status, code, result.reason or "no answer")
                return
            await self._defer(share, network, status, time.time() + self._retry.delay(attempt))
            return

    async def _budget_allows(
        self, share: Share, network: Network, status: Status, limiter: Limiter
    ) -> bool:
        """Take a token now, waiting briefly; defer the post when the wait is long,
        so that no record holds a consumer lane through a rate-limit window."""
        while not limiter.take(share.advocate, time.time()):
            pause = limiter.wait_time(share.advocate, time.time())
            if pause > self._timeouts.max_inline_wait:
                await self._defer(share, network, status, time.time() + pause)
                return False
            self._rate_waits.labels(network).inc(pause)
            await asyncio.sleep(pause)
        return True

    async def _defer(self, share: Share, network: Network, status: Status, until: float) -> None:
        """Back to the scheduler: released as new work once `until` has passed."""
        self._rate_waits.labels(network).inc(max(0.0, until - time.time()))
        await self._store.move(
            share.id,
            network,
            status,
            Status.SCHEDULED,
            not_before=datetime.fromtimestamp(until, UTC),
            scheduled=True,
        )

    async def _reconciled(
        self, share: Share, network: Network, status: Status, account: UsableAccount, tracked: str
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
                log.warning("reconciling failed; looking again", extra={"share": share.id})
                await asyncio.sleep(self._timeouts.settle_seconds)
        if post_ref is None:
            return False
        self._moves.posts.labels(network, "reconciled").inc()
        await self._moves.posted(share, network, status, post_ref, tracked)
        return True
