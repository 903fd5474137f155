"""REST entry points of the gamification service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from chorus.gamification.adapters.rewards import Redemption, Reward
from chorus.gamification.app.gamification import (
    AdvocateStanding,
    Board,
    GamificationApp,
)
from chorus.gamification.domain.periods import PeriodKind
from chorus.gamification.domain.rules import RuleSet
from chorus.kit.fields import IdempotencyKey, PathId
from chorus.kit.http import PROBLEM_RESPONSES, Authenticated, links_to

PeriodQuery = Annotated[
    str, Query(max_length=20, description='e.g. "2026-W48", "2026-11", "2026-Q4"; empty: current')
]


class RulesIn(RuleSet):
    """A rule set to save. `version` is assigned; `effective_from` (optional,
    RFC 3339) is when it starts to score events — at the earliest a couple of
    seconds from now, never in the past."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "points": {"share": {"default": 10, "linkedin": 15}, "comment": {"default": 3}},
                    "daily_caps": {"click": 50},
                    "multipliers": [
                        {
                            "name": "launch week",
                            "factor": 2,
                            "starts_at": "2026-12-01T00:00:00Z",
                            "ends_at": "2026-12-08T00:00:00Z",
                            "tags": ["launch"],
                        }
                    ],
                    "badges": {"streak_weeks": 4, "conversation_comments": 10, "top_n": 3},
                }
            ]
        }
    )


class EntryOut(BaseModel):
    rank: int
    advocate: str
    points: int


class BoardOut(BaseModel):
    period_kind: str
    period: str
    group: str
    participants: int
    entries: list[EntryOut]


class BadgeOut(BaseModel):
    badge: str
    period: str = Field(description="empty for lifetime badges")
    earned_at: datetime


class StandingOut(BaseModel):
    advocate: str
    period_kind: str
    period: str
    rank: int = Field(description="0 when the advocate has no points in the period")
    points: int
    lifetime_points: int
    balance: int = Field(description="lifetime points minus what rewards have cost")
    badges: list[BadgeOut]
    streak_weeks: int = Field(
        description="weeks in a row with a share, up to this week (which may not have one yet)"
    )


class RewardIn(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"name": "Hoodie", "cost": 500, "stock": 20}]}
    }
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    cost: int = Field(ge=1, le=10_000_000)
    stock: int = Field(ge=0, le=1_000_000)


class RewardOut(BaseModel):
    id: str
    name: str
    description: str
    cost: int
    stock: int


class RedemptionOut(BaseModel):
    id: str
    reward_id: str
    cost: int
    status: str
    reason: str
    created_at: datetime


def board_out(board: Board) -> BoardOut:
    return BoardOut(
        period_kind=board.kind,
        period=board.period,
        group=board.group,
        participants=board.participants,
        entries=[
            EntryOut(rank=e.rank, advocate=e.advocate, points=e.points) for e in board.entries
        ],
    )


def standing_out(standing: AdvocateStanding) -> StandingOut:
    return StandingOut(
        advocate=standing.advocate,
        period_kind=standing.kind,
        period=standing.period,
        rank=standing.rank,
        points=standing.points,
        lifetime_points=standing.lifetime,
        balance=standing.balance,
        badges=[
            BadgeOut(badge=b.badge, period=b.period, earned_at=b.earned_at) for b in standing.badges
        ],
        streak_weeks=standing.streak_weeks,
    )


def reward_out(reward: Reward) -> RewardOut:
    return RewardOut(
        id=reward.id,
        name=reward.name,
        description=reward.description,
        cost=reward.cost,
        stock=reward.stock,
    )


def redemption_out(redemption: Redemption) -> RedemptionOut:
    return RedemptionOut(
        id=redemption.id,
        reward_id=redemption.reward_id,
        cost=redemption.cost,
        status=redemption.status,
        reason=redemption.reason,
        created_at=redemption.created_at,
    )


def router(app: GamificationApp) -> APIRouter:
    api = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

    @api.get(
        "/rules",
        tags=["rules"],
        summary="The newest scoring rules (in force from their effective_from)",
    )
    async def get_rules(principal: Authenticated) -> RuleSet:
        return await app.current_rules(principal)

    @api.put(
        "/rules",
        tags=["rules"],
        summary="Save a new version of the rules (admins); it scores events from effective_from on",
    )
    async def put_rules(body: RulesIn, principal: Authenticated) -> RuleSet:
        fields = body.model_dump(exclude={"version", "effective_from"})
        requested = body.effective_from if "effective_from" in body.model_fields_set else None
        return await app.save_rules(principal, RuleSet.model_validate(fields), requested)

    @api.get(
        "/leaderboards/{period_kind}",
        tags=["leaderboards"],
        summary="Ranks of a week, month, quarter or all time; optionally one group (team)",
    )
    async def leaderboard(
        period_kind: PeriodKind,
        principal: Authenticated,
        period: PeriodQuery = "",
        group: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> BoardOut:
        board = await app.leaderboard(principal, period_kind, period, group, limit)
        return board_out(board)

    @api.get(
        "/me/standing",
        tags=["leaderboards"],
        summary="The caller's rank, points, balance and badges",
    )
    async def my_standing(
        principal: Authenticated,
        period_kind: PeriodKind = PeriodKind.WEEK,
        period: PeriodQuery = "",
    ) -> StandingOut:
        return standing_out(await app.standing(principal, "", period_kind, period))

    @api.get(
        "/advocates/{advocate}/standing",
        tags=["leaderboards"],
        summary="An advocate's standing (admins and curators, or the advocate)",
    )
    async def advocate_standing(
        advocate: PathId,
        principal: Authenticated,
        period_kind: PeriodKind = PeriodKind.WEEK,
        period: PeriodQuery = "",
    ) -> StandingOut:
        return standing_out(await app.standing(principal, advocate, period_kind, period))

    @api.get("/rewards", tags=["rewards"], summary="The tenant's rewards catalogue")
    async def rewards(principal: Authenticated) -> list[RewardOut]:
        return [reward_out(reward) for reward in await app.catalogue(principal)]

    @api.post(
        "/rewards",
        status_code=201,
        tags=["rewards"],
        summary="Add a reward (admins)",
        responses=links_to(
            201,
            {"redeem_v1_rewards__reward_id__redemptions_post": {"reward_id": "$response.body#/id"}},
        ),
    )
    async def create_reward(body: RewardIn, principal: Authenticated) -> RewardOut:
        reward = await app.create_reward(
            principal, body.name, body.description, body.cost, body.stock
        )
        return reward_out(reward)

    @api.post(
        "/rewards/{reward_id}/redemptions",
        status_code=201,
        tags=["rewards"],
        summary="Redeem a reward from the spendable balance; idempotent per Idempotency-Key",
    )
    async def redeem(
        reward_id: PathId,
        principal: Authenticated,
        idempotency_key: IdempotencyKey = None,
    ) -> RedemptionOut:
        return redemption_out(await app.redeem(principal, reward_id, idempotency_key or ""))

    @api.get("/me/redemptions", tags=["rewards"], summary="The caller's redemptions")
    async def my_redemptions(principal: Authenticated) -> list[RedemptionOut]:
        return [redemption_out(r) for r in await app.my_redemptions(principal)]

    return api
