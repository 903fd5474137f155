"""Composition root of the content service."""

from __future__ import annotations

from chorus.content.adapters.shared_marks import SharedMarks
from chorus.content.api import grpc as grpc_api
from chorus.content.api import rest
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.envelope import Envelope
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import SHARE_PERFORMED
from pydantic_settings import SettingsConfigDict


class ContentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "content"
    http_port: int = 8010
    grpc_port: int = 50510


def build(settings: ContentSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    marks = SharedMarks(infra.db)

    async def on_share_performed(event: Envelope) -> None:
        assert isinstance(event.message, SharePerformed)
        await marks.record(event.message)

    infra.consumer({SHARE_PERFORMED: on_share_performed})
    return infra.runtime(
        title="Chorus content",
        description="Program, enrollment, curation and approval, compliance and the feed.",
        routers=[rest.router(marks)],
        grpc_services=[grpc_api.registration()],
        components=[Lifecycle.on_start_only(marks.ensure_indexes)],
    )


def main() -> None:
    run_service(ContentSettings, build)


if __name__ == "__main__":
    main()
