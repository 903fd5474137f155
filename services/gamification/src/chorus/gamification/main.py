"""Composition root of the gamification service.

CHORUS_ROLE picks what this process runs: "worker" (the scoring engine,
scaled on consumer lag), "api" (REST + gRPC over the read model, and the
period closer), or "all" (both; the default for a laptop). Every role serves
health and metrics.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chorus.gamification.adapters.closed_periods import ClosedPeriods
from chorus.gamification.adapters.engine_states import EngineStates
from chorus.gamification.adapters.rewards import Rewards
from chorus.gamification.adapters.rules_store import RulesCache, RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.api import grpc as grpc_api
from chorus.gamification.api import rest
from chorus.gamification.app.gamification import GamificationApp
from chorus.gamification.app.period_closer import PeriodCloser
from chorus.gamification.app.scoring import Scoring
from chorus.gamification.worker.engine import EngineConfig, ScoringEngine
from chorus.kit.consumer import Batched
from chorus.kit.outbox import OutboxRelay
from chorus.kit.periodic import PeriodicTask
from chorus.kit.runtime import Component, Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import ADVOCATE_LIFECYCLE


class Role(StrEnum):
    ALL = "all"
    API = "api"
    WORKER = "worker"


class GamificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "gamification"
    http_port: int = 8040
    grpc_port: int = 50540

    role: Role = Role.ALL
    # The scoring workers' consumer group.
    engine_app_id: str = "chorus-gamification"
    engine_batch_size: int = Field(default=10_000, ge=1, le=50_000)
    engine_offset_reset: Literal["earliest", "latest"] = "earliest"
    leaderboard_cache_seconds: float = Field(default=1.0, ge=0)
    # How long after a period ends late events still count before top-N badges are given.
    period_grace_seconds: float = Field(default=3600, ge=0)


def build(settings: GamificationSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    rules = RulesStore(infra.db)
    standings = Standings(infra.db, settings.leaderboard_cache_seconds)
    rewards = Rewards(infra.db)
    closed = ClosedPeriods(infra.db)
    closer = PeriodCloser(
        closed, standings, rules, timedelta(seconds=settings.period_grace_seconds)
    )
    relay = OutboxRelay(infra.producer, [rules.collection, closed.collection])

    async def ensure_indexes() -> None:
        for store in (rules, standings, rewards, closed):
            await store.ensure_indexes()

    components: list[Component] = [Lifecycle.on_start_only(ensure_indexes)]
    if settings.role in (Role.ALL, Role.API):
        components += [relay, PeriodicTask("period-closer", 60, closer.close_due)]
    if settings.role in (Role.ALL, Role.WORKER):
        engine = ScoringEngine(
            EngineConfig(
                bootstrap=settings.kafka_bootstrap,
                app_id=settings.engine_app_id,
                batch_size=settings.engine_batch_size,
                offset_reset=settings.engine_offset_reset,
                topic_prefix=settings.topic_prefix,
            ),
            scoring=Scoring(
                rules=RulesCache(rules),
                states=EngineStates(infra.db),
                standings=standings,
                producer=infra.producer,
                metrics=infra.metrics,
            ),
            metrics=infra.metrics,
        )
        components.append(infra.supervised("engine", engine))
    app = GamificationApp(rules, standings, rewards, closed)
    if settings.role in (Role.ALL, Role.API):
        # Hides a departing advocate within a second, whatever the engine's
        # backlog; idempotent (a plain set), so no dedupe record.
        hide = Batched(app.on_lifecycle)
        infra.consumer({ADVOCATE_LIFECYCLE: hide}, control=True, dedupe=False)
    return infra.runtime(
        title="Chorus gamification",
        description="Points, badges, leaderboards and rewards.",
        routers=[rest.router(app)],
        grpc_services=[grpc_api.registration(grpc_api.GamificationServicer(app, infra.verifier))],
        components=components,
    )


def main() -> None:
    run_service(GamificationSettings, build)


if __name__ == "__main__":
    main()
