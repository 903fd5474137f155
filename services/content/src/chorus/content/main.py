"""Composition root of the content service."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_settings import SettingsConfigDict

from chorus.content.adapters.store import ContentStore
from chorus.content.api import grpc as grpc_api
from chorus.content.api import rest
from chorus.content.app.content import ContentApp
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.kit.consumer import Batched
from chorus.kit.envelope import Envelope, messages
from chorus.kit.outbox import OutboxRelay
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import SHARE_PERFORMED


class ContentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "content"
    http_port: int = 8010
    grpc_port: int = 50510


def build(settings: ContentSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    store = ContentStore(infra.db)
    relay = OutboxRelay(infra.producer, store.outbox_collections)
    app = ContentApp(store)

    async def on_shares_performed(events: Sequence[Envelope]) -> None:
        await app.on_shares_performed(messages(events, SharePerformed))

    # The handler is idempotent by itself (one document per share and network,
    # inserted once): a dedupe record per event would cost a write and save nothing.
    infra.consumer({SHARE_PERFORMED: Batched(on_shares_performed)}, dedupe=False)
    return infra.runtime(
        title="Chorus content",
        description="Program, voluntary enrollment, curation and approval, compliance, feed.",
        routers=[rest.router(app)],
        grpc_services=[grpc_api.registration(grpc_api.ContentServicer(app, infra.verifier))],
        components=[Lifecycle.on_start_only(store.ensure_indexes), relay],
    )


def main() -> None:
    run_service(ContentSettings, build)


if __name__ == "__main__":
    main()
