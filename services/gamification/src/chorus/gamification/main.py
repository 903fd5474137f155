"""Composition root of the gamification service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.gamification.adapters.activity import Activity
from chorus.gamification.api import grpc as grpc_api
from chorus.gamification.api import rest
from chorus.kit.envelope import Envelope
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import ENGAGEMENT_OBSERVED, SHARE_PERFORMED


class GamificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "gamification"
    http_port: int = 8040
    grpc_port: int = 50540


def build(settings: GamificationSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    activity = Activity(infra.db)

    async def on_share_performed(event: Envelope) -> None:
        assert isinstance(event.message, SharePerformed)
        await activity.count(event.message.tenant, event.message.advocate, "shares", 1)

    async def on_engagement_observed(event: Envelope) -> None:
        assert isinstance(event.message, EngagementObserved)
        message = event.message
        await activity.count(message.tenant, message.advocate, "engagement", message.delta)

    infra.consumer(
        {SHARE_PERFORMED: on_share_performed, ENGAGEMENT_OBSERVED: on_engagement_observed}
    )
    return infra.runtime(
        title="Chorus gamification",
        description="Points, badges, leaderboards and rewards.",
        routers=[rest.router(activity)],
        grpc_services=[grpc_api.registration()],
        components=[Lifecycle.on_start_only(activity.ensure_indexes)],
    )


def main() -> None:
    run_service(GamificationSettings, build)


if __name__ == "__main__":
    main()
