"""Composition root of the engagement service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.engagement.adapters.poll_targets import PollTargets
from chorus.engagement.api import grpc as grpc_api
from chorus.engagement.api import rest
from chorus.kit.envelope import Envelope
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import SHARE_PERFORMED


class EngagementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "engagement"
    http_port: int = 8030
    grpc_port: int = 50530


def build(settings: EngagementSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    targets = PollTargets(infra.db)

    async def on_share_performed(event: Envelope) -> None:
        assert isinstance(event.message, SharePerformed)
        await targets.learn(event.message)

    infra.consumer({SHARE_PERFORMED: on_share_performed})
    return infra.runtime(
        title="Chorus engagement",
        description="Tracked links and redirects, metric polling and signed webhooks.",
        routers=[rest.router(targets)],
        grpc_services=[grpc_api.registration()],
        components=[Lifecycle.on_start_only(targets.ensure_indexes)],
    )


def main() -> None:
    run_service(EngagementSettings, build)


if __name__ == "__main__":
    main()
