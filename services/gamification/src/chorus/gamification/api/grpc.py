"""gRPC entry points of the gamification service, calling the same use cases as REST.
Rules arrive as proto messages and are validated by the same pydantic model."""

from __future__ import annotations

from typing import Any

import grpc
from pydantic import ValidationError

from chorus.contracts.gamification.v1 import gamification_service_pb2 as pb
from chorus.contracts.gamification.v1 import gamification_service_pb2_grpc as pb_grpc
from chorus.gamification.adapters.rewards import Redemption, Reward
from chorus.gamification.app.gamification import GamificationApp, parse_kind
from chorus.gamification.domain.rules import RuleSet
from chorus.kit.auth import TokenVerifier
from chorus.kit.envelope import timestamp
from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.grpc_server import Registration, principal_from
from chorus.kit.validation import requested_moment, violations_from


def rules_pb(rules: RuleSet) -> pb.RuleSet:
    return pb.RuleSet(
        version=rules.version,
        effective_from=timestamp(rules.effective_from),
        points=[
            pb.PointRule(action=action, network=network, points=points)
            for action, table in rules.points.items()
            for network, points in table.items()
        ],
        daily_caps=[pb.DailyCap(action=a, points=p) for a, p in rules.daily_caps.items()],
        multipliers=[
            pb.Multiplier(
                name=m.name,
                factor=m.factor,
                starts_at=timestamp(m.starts_at),
                ends_at=timestamp(m.ends_at),
                content_ids=sorted(m.content_ids),
                tags=sorted(m.tags),
            )
            for m in rules.multipliers
        ],
        badges=pb.BadgeRules(
            streak_weeks=rules.badges.streak_weeks,
            conversation_comments=rules.badges.conversation_comments,
            top_n=rules.badges.top_n,
        ),
    )


def rules_from_pb(message: pb.RuleSet) -> RuleSet:
    points: dict[str, dict[str, int]] = {}
    for rule in message.points:
        points.setdefault(rule.action, {})[rule.network or "default"] = rule.points
    document: dict[str, Any] = {
        "points": points,
        "daily_caps": {cap.action: cap.points for cap in message.daily_caps},
        "multipliers": [
            {
                "name": m.name,
                "factor": m.factor,
                "starts_at": requested_moment(m, "starts_at", f"multipliers.{index}.starts_at"),
                "ends_at": requested_moment(m, "ends_at", f"multipliers.{index}.ends_at"),
                "content_ids": list(m.content_ids),
                "tags": list(m.tags),
            }
            for index, m in enumerate(message.multipliers)
        ],
    }
    if message.HasField("badges"):
        document["badges"] = {
            "streak_weeks": message.badges.streak_weeks,
            "conversation_comments": message.badges.conversation_comments,
            "top_n": message.badges.top_n,
        }
    try:
        return RuleSet.model_validate(document)
    except ValidationError as exc:
        violations = violations_from(exc.errors())
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED, f"{len(violations)} problem(s) in the rules", violations
        ) from None


def reward_pb(reward: Reward) -> pb.Reward:
    return pb.Reward(
        id=reward.id,
        name=reward.name,
        description=reward.description,
        cost=reward.cost,
        stock=reward.stock,
    )


def redemption_pb(redemption: Redemption) -> pb.Redemption:
    return pb.Redemption(
        id=redemption.id,
        reward_id=redemption.reward_id,
        cost=redemption.cost,
        status=redemption.status,
        reason=redemption.reason,
        created_at=timestamp(redemption.created_at),
    )


class GamificationServicer(pb_grpc.GamificationServiceServicer):
    def __init__(self, app: GamificationApp, verifier: TokenVerifier) -> None:
        self._app = app
        self._verifier = verifier

    async def GetRules(self, request: pb.GetRulesRequest, context: grpc.aio.ServicerContext) -> Any:
        rules = await self._app.current_rules(await principal_from(context, self._verifier))
        return pb.GetRulesResponse(rules=rules_pb(rules))

    async def SetRules(self, request: pb.SetRulesRequest, context: grpc.aio.ServicerContext) -> Any:
        principal = await principal_from(context, self._verifier)
        rules = rules_from_pb(request.rules)
        saved = await self._app.save_rules(
            principal, rules, requested_moment(request, "effective_from")
        )
        return pb.SetRulesResponse(rules=rules_pb(saved))

    async def GetLeaderboard(
        self, request: pb.GetLeaderboardRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        limit = request.limit or 10
        if not 1 <= limit <= 100:
            raise ProblemError(ErrorCode.VALIDATION_FAILED, "limit must be between 1 and 100")
        board = await self._app.leaderboard(
            await principal_from(context, self._verifier),
            parse_kind(request.period_kind),
            request.period,
            request.group,
            limit,
        )
        return pb.GetLeaderboardResponse(
            period_kind=board.kind,
            period=board.period,
            group=board.group,
            participants=board.participants,
            entries=[
                pb.LeaderboardEntry(rank=e.rank, advocate=e.advocate, points=e.points)
                for e in board.entries
            ],
        )

    async def GetStanding(
        self, request: pb.GetStandingRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        standing = await self._app.standing(
            await principal_from(context, self._verifier),
            request.advocate,
            parse_kind(request.period_kind),
            request.period,
        )
        return pb.GetStandingResponse(
            advocate=standing.advocate,
            period_kind=standing.kind,
            period=standing.period,
            rank=standing.rank,
            points=standing.points,
            lifetime_points=standing.lifetime,
            balance=standing.balance,
            badges=[
                pb.Badge(badge=b.badge, period=b.period, earned_at=timestamp(b.earned_at))
                for b in standing.badges
            ],
            streak_weeks=standing.streak_weeks,
        )

    async def ListRewards(
        self, request: pb.ListRewardsRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        rewards = await self._app.catalogue(await principal_from(context, self._verifier))
        return pb.ListRewardsResponse(rewards=[reward_pb(r) for r in rewards])

    async def CreateReward(
        self, request: pb.CreateRewardRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        who = await principal_from(context, self._verifier)
        if not request.name or request.cost < 1 or request.stock < 0:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED, "a reward needs a name, a cost >= 1 and a stock >= 0"
            )
        reward = await self._app.create_reward(
            who,
            request.name,
            request.description,
            request.cost,
            request.stock,
        )
        return pb.CreateRewardResponse(reward=reward_pb(reward))

    async def Redeem(self, request: pb.RedeemRequest, context: grpc.aio.ServicerContext) -> Any:
        redemption = await self._app.redeem(
            await principal_from(context, self._verifier),
            request.reward_id,
            request.idempotency_key,
        )
        return pb.RedeemResponse(redemption=redemption_pb(redemption))


def registration(servicer: GamificationServicer) -> Registration:
    name = pb.DESCRIPTOR.services_by_name["GamificationService"].full_name
    return (servicer, pb_grpc.add_GamificationServiceServicer_to_server, name)
