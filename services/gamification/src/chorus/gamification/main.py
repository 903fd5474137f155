"""Composition root of the gamification service.

CHORUS_ROLE picks what this process runs: "worker" (the faust scoring engine,
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
from chorus.gamification.adapters.rewards import Rewards
from chorus.gamification.adapters.rules_store import RulesCache, RulesStore
from chorus.gamification.adapters.standings import Standings
from chorus.gamification.api import grpc as grpc_api
from chorus.gamification.api import rest
from chorus.gamification.app.engine import EngineConfig, ScoringEngine
from chorus.gamification.app.gamification import GamificationApp
from chorus.kit.outbox import OutboxRelay
from chorus.kit.periodic import PeriodicTask
from chorus.kit.runtime import Component, Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings


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
    # The faust app id: its consumer group and the prefix of its changelog topic.
    engine_app_id: str = "chorus-gamification"
    engine_state_dir: str = "/tmp/chorus-gamification"
    engine_batch_size: int = Field(default=10_000, ge=1, le=50_000)
    engine_linger_seconds: float = Field(default=0.25, gt=0, le=5)
    engine_offset_reset: Literal["earliest", "latest"] = "earliest"
    kafka_replication_factor: int = Field(default=1, ge=1)
    leaderboard_cache_seconds: float = Field(default=1.0, ge=0)
    # How long after a period ends late events still count before top-N badges are given.
    period_grace_seconds: float = Field(default=3600, ge=0)


def build(settings: GamificationSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    rules = RulesStore(infra.db)
    standings = Standings(infra.db, settings.leaderboard_cache_seconds)
    rewards = Rewards(infra.db)
    closed = ClosedPeriods(
        infra.db, standings, rules, timedelta(seconds=settings.period_grace_seconds)
    )
    relay = OutboxRelay(infra.producer, [rules.collection, closed.collection])

    async def ensure_indexes() -> None:
        for store in (rules, standings, rewards, closed):
            await store.ensure_indexes()

    components: list[Component] = [Lifecycle.on_start_only(ensure_indexes)]
    if settings.role in (Role.ALL, Role.API):
        components += [relay, PeriodicTask("period-closer", 60, closed.close_due)]
    if settings.role in (Role.ALL, Role.WORKER):
        engine = ScoringEngine(
            EngineConfig(
                bootstrap=settings.kafka_bootstrap,
                app_id=settings.engine_app_id,
                state_dir=settings.engine_state_dir,
                replication_factor=settings.kafka_replication_factor,
                batch_size=settings.engine_batch_size,
                linger_seconds=settings.engine_linger_seconds,
                offset_reset=settings.engine_offset_reset,
            ),
            rules=RulesCache(rules),
            standings=standings,
            producer=infra.producer,
            metrics=infra.metrics,
        )
        components += [
            infra.supervised("engine", engine),
            PeriodicTask("engine-lag", 5, engine.report_lag),
            PeriodicTask("engine-sweep", 5, engine.sweep),
        ]
        infra.health.add("engine-partitions", engine.check)
    app = GamificationApp(rules, standings, rewards, closed, relay)
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
