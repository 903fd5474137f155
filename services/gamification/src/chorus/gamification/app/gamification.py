"""The gamification use cases behind REST and gRPC: rules, leaderboards,
standings, rewards. Every call is scoped to the caller's tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chorus.contracts.content.v1.events_pb2 import AdvocateLifecycle
from chorus.contracts.gamification.v1.events_pb2 import RulesChanged
from chorus.gamification.adapters.closed_periods import ClosedPeriods
from chorus.gamification.adapters.rewards import Redemption, RedemptionStatus, Reward, Rewards
from chorus.gamification.adapters.rules_store import RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.domain.badges import EarnedBadge, current_streak
from chorus.gamification.domain.leaderboard import Entry, ranked
from chorus.gamification.domain.periods import PeriodKind, is_period, period_of
from chorus.gamification.domain.rules import RuleSet
from chorus.kit.auth import Principal, Role
from chorus.kit.envelope import Envelope, messages, timestamp
from chorus.kit.errors import ErrorCode, ProblemError, Violation, not_found
from chorus.kit.outbox import outbox_entry
from chorus.kit.topics import RULES_CHANGED, advocate_key

# New rules score events from this long after they are saved, so that every
# worker has loaded them before the first event they apply to (see RulesCache).
RULES_SETTLE = timedelta(seconds=2)


@dataclass(frozen=True)
class Board:
    kind: PeriodKind
    period: str
    group: str
    entries: list[Entry]
    participants: int


@dataclass(frozen=True)
class AdvocateStanding:
    advocate: str
    kind: PeriodKind
    period: str
    rank: int
    points: int
    lifetime: int
    balance: int
    badges: list[EarnedBadge]
    streak_weeks: int = 0


def parse_kind(value: str) -> PeriodKind:
    try:
        return PeriodKind(value or PeriodKind.WEEK)
    except ValueError:
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED,
            "unknown period kind",
            [Violation("period_kind", "use week, month, quarter or all")],
        ) from None


def _period(kind: PeriodKind, period: str, now: datetime) -> str:
    """The period asked for (now's when none), refused when it names no period."""
    if not period:
        return period_of(kind, now)
    if not is_period(kind, period):
        example = period_of(kind, now)
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED,
            f"{period!r} is not a {kind} period",
            [Violation("period", f"a {kind} period such as {example!r}")],
        )
    return period


class GamificationApp:
    def __init__(
        self,
        rules: RulesStore,
        standings: Standings,
        rewards: Rewards,
        closed: ClosedPeriods,
    ) -> None:
        self._rules = rules
        self._standings = standings
        self._rewards = rewards
        self._closed = closed

    async def on_lifecycle(self, events: Sequence[Envelope]) -> None:
        """The control consumer's part of a departure: off every board at once
        (the engine erases the points when it gets there in its own stream).
        Each advocate's last change in the chunk decides."""
        latest: dict[tuple[str, str], bool] = {}
        for change in messages(events, AdvocateLifecycle):
            if change.change != AdvocateLifecycle.CHANGE_UNSPECIFIED:
                withdrawn = change.change != AdvocateLifecycle.CHANGE_ENROLLED
                latest[(change.tenant, change.advocate)] = withdrawn
        await self._standings.withdraw(latest)

    # -- rules ------------------------------------------------------------------

    async def current_rules(self, principal: Principal) -> RuleSet:
        """The newest version: in force, or about to be from its effective_from."""
        return (await self._rules.history(principal.tenant)).latest

    async def save_rules(
        self, principal: Principal, rules: RuleSet, effective_from: datetime | None
    ) -> RuleSet:
        principal.require_role(Role.ADMIN)
        earliest = datetime.now(UTC) + RULES_SETTLE
        if effective_from is not None and effective_from.tzinfo is None:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "effective_from needs a time zone",
                [Violation("effective_from", "give an RFC 3339 time with an offset")],
            )
        start = max(earliest, effective_from) if effective_from else earliest
        tenant = principal.tenant
        version = (await self._rules.history(tenant)).latest.version + 1
        saved = rules.model_copy(update={"effective_from": start, "version": version})
        changed = RulesChanged(
            tenant=tenant,
            version=version,
            effective_from=timestamp(start),
            changed_by=principal.subject,
        )
        event = outbox_entry(RULES_CHANGED, tenant, changed)
        await self._rules.insert(tenant, saved, principal.subject, [event])
        return saved

    # -- leaderboards -------------------------------------------------------------

    async def leaderboard(
        self, principal: Principal, kind: PeriodKind, period: str, group: str, limit: int
    ) -> Board:
        now = datetime.now(UTC)
        name = _period(kind, period, now)
        entries = ranked(await self._standings.of_tenant(principal.tenant), kind, name, group)
        return Board(kind, name, group, entries[:limit], len(entries))

    async def standing(
        self, principal: Principal, advocate: str, kind: PeriodKind, period: str
    ) -> AdvocateStanding:
        advocate = advocate or principal.subject
        if advocate != principal.subject:
            principal.require_role(Role.ADMIN, Role.CURATOR)
        now = datetime.now(UTC)
        name = _period(kind, period, now)
        standing = await self._standings.of(principal.tenant, advocate)
        if standing is None:
            return AdvocateStanding(advocate, kind, name, 0, 0, 0, 0, [])
        rank = await self._standings.rank_of(principal.tenant, standing, kind, name)
        spent = await self._rewards.spent(advocate_key(principal.tenant, advocate))
        badges = [
            EarnedBadge(badge, "", datetime.fromisoformat(at))
            for badge, at in sorted(standing.badges.items())
        ]
        badges += await self._closed.badges_of(principal.tenant, advocate)
        return AdvocateStanding(
            advocate,
            kind,
            name,
            rank,
            standing.points_in(kind, name),
            standing.lifetime,
            standing.lifetime - spent,
            badges,
            current_streak(standing.share_weeks, period_of(PeriodKind.WEEK, now)),
        )

    # -- rewards --------------------------------------------------------------------

    async def catalogue(self, principal: Principal) -> list[Reward]:
        return await self._rewards.catalogue(principal.tenant)

    async def create_reward(
        self, principal: Principal, name: str, description: str, cost: int, stock: int
    ) -> Reward:
        principal.require_role(Role.ADMIN)
        return await self._rewards.create(principal.tenant, name, description, cost, stock)

    async def redeem(
        self, principal: Principal, reward_id: str, idempotency_key: str
    ) -> Redemption:
        principal.require_role(Role.ADVOCATE)
        if not idempotency_key or len(idempotency_key) > 200:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "a redemption needs an idempotency key",
                [Violation("idempotency_key", "send 1 to 200 characters, unique per redemption")],
            )
        reward = await self._rewards.get(principal.tenant, reward_id)
        if reward is None:
            raise not_found("reward")
        standing = await self._standings.of(principal.tenant, principal.subject)
        earned = standing.lifetime if standing else 0
        redemption = await self._rewards.redeem(
            principal.tenant, principal.subject, reward, idempotency_key, earned
        )
        if redemption.status is RedemptionStatus.REFUSED:
            raise ProblemError(
                ErrorCode.INVALID_STATE,
                f"redemption refused: {redemption.reason}",
                extra={"reason": redemption.reason, "redemption_id": redemption.id},
            )
        return redemption

    async def my_redemptions(self, principal: Principal) -> list[Redemption]:
        return await self._rewards.redemptions(advocate_key(principal.tenant, principal.subject))
