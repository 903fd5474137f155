"""Whether an advocate may share an item now: the checks a share request and
an auto-share both make, and the commentary suggested to them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.app.accounts import Accounts, AccountUnusable
from chorus.distribution.domain.model import Member, PostingRules
from chorus.kit.envelope import moment_of
from chorus.kit.errors import ErrorCode, ProblemError, not_found
from chorus.kit.frequency import count_posts
from chorus.kit.networks import Network, network_name


class Eligibility:
    def __init__(
        self,
        store: DistributionStore,
        copies: ContentCopies,
        accounts: Accounts,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._copies = copies
        self._accounts = accounts
        self._now = clock

    async def check_advocate(self, tenant: str, advocate: str, rules: PostingRules) -> None:
        check_member(await self._store.advocate(tenant, advocate), rules)

    async def live_content(self, tenant: str, content_id: str, at: datetime) -> ContentApproved:
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

    async def check_frequency(
        self, tenant: str, advocate: str, rules: PostingRules, adding: int
    ) -> None:
        """Refuse `adding` more posts beyond the program's hard limit (kit.frequency)."""
        if not rules.hard_limit:
            return
        shares = await self._store.shares_of(tenant, advocate)
        posted_at = [moment for share in shares for moment in share.posts_counted()]
        if count_posts(posted_at, self._now()).would_exceed(adding, rules.per_day, rules.per_week):
            raise ProblemError(
                ErrorCode.RATE_LIMITED,
                "the program's posting limit is reached",
                extra={"reason": "posting_limit"},
            )

    async def require_account(self, tenant: str, advocate: str, network: Network) -> None:
        try:
            await self._accounts.usable(tenant, advocate, network)
        except AccountUnusable as error:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"the {network} account cannot post: {error.reason}",
                extra={"reason": error.reason, "network": network.value},
            ) from error


def check_member(member: Member | None, rules: PostingRules) -> None:
    """Enrolled, and has acknowledged the policy version the program requires."""
    if member is None or not member.enrolled:
        raise ProblemError(
            ErrorCode.INVALID_STATE,
            "enrol in the program before sharing",
            extra={"reason": "not_enrolled"},
        )
    if member.policy_version < rules.policy_version:
        raise ProblemError(
            ErrorCode.INVALID_STATE,
            "acknowledge the current social media policy before sharing",
            extra={
                "reason": "policy_not_acknowledged",
                "current_policy_version": rules.policy_version,
            },
        )


def suggested(content: ContentApproved, network: Network, advocate: str) -> str:
    """One of the item's suggested commentaries for the network, varied by advocate
    so that posts do not all look the same."""
    options = [c.text for c in content.commentaries if network_name(c.network) == network]
    if not options:
        return content.title
    return options[sum(map(ord, advocate)) % len(options)]
