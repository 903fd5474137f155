"""Composition root of the engagement service."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from chorus.contracts.content.v1.events_pb2 import ContentRetracted
from chorus.engagement.adapters.journal import ClickJournal
from chorus.engagement.adapters.journal_relay import JournalRelay
from chorus.engagement.adapters.platforms import MetricsReader, PlatformCredentials
from chorus.engagement.adapters.store import EngagementStore
from chorus.engagement.api import grpc as grpc_api
from chorus.engagement.api import rest
from chorus.engagement.app.engagement import EngagementApp
from chorus.kit.consumer import Batched, handles
from chorus.kit.outbox import OutboxRelay
from chorus.kit.periodic import PeriodicTask
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import (
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    ENGAGEMENT_OBSERVED,
    SHARE_PERFORMED,
)
from chorus.kit.tracing import traced_http_client


class EngagementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "engagement"
    http_port: int = 8030
    grpc_port: int = 50530
    # Where short links point: the public address of GET /r/{code}.
    public_base_url: str = "http://127.0.0.1:8030"
    # The click journal: on a persistent volume in Kubernetes (one per replica).
    journal_dir: Path = Path(".local/data/engagement-journal")
    # Stable per replica (a StatefulSet pod name); names the journal's Kafka transactions.
    instance_id: str = ""
    poll_interval_seconds: float = 30.0
    x_api_base_url: str = "https://api.x.com"
    x_app_bearer_token: str = ""
    linkedin_api_base_url: str = "https://api.linkedin.com"
    linkedin_metrics_token: str = ""

    @property
    def instance(self) -> str:
        return self.instance_id or socket.gethostname()


def build(settings: EngagementSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    store = EngagementStore(infra.db)
    journal = ClickJournal(settings.journal_dir / f"{settings.instance}.jsonl")
    outbox = OutboxRelay(infra.producer, store.outbox_collections)
    http = traced_http_client(timeout=10)
    reader = MetricsReader(
        http,
        PlatformCredentials(
            settings.x_api_base_url,
            settings.x_app_bearer_token,
            settings.linkedin_api_base_url,
            settings.linkedin_metrics_token,
        ),
    )
    app = EngagementApp(
        store,
        journal,
        reader,
        public_base_url=settings.public_base_url,
    )
    journal_relay = JournalRelay(
        journal,
        bootstrap=settings.kafka_bootstrap,
        instance=settings.instance,
        source="/chorus/engagement",
        is_unique=app.is_unique,
        metrics=infra.metrics,
        topic_prefix=settings.topic_prefix,
    )
    # Every handler is idempotent by itself (totals record the event ids they
    # counted, poll targets are inserted once, retraction is a plain set): a
    # dedupe record per event would cost a write and save nothing.
    infra.consumer(
        {
            ENGAGEMENT_OBSERVED: Batched(app.on_engagement_observed),
            SHARE_PERFORMED: Batched(app.on_shares_performed),
        },
        dedupe=False,
    )
    # A retraction withdraws the links at once, whatever the backlog above; an
    # approval says what links may point at (distribution mints them right away).
    infra.consumer(
        {
            CONTENT_RETRACTED: handles(ContentRetracted, app.on_content_retracted),
            CONTENT_APPROVED: Batched(app.on_content_approved),
        },
        control=True,
        dedupe=False,
    )
    return infra.runtime(
        title="Chorus engagement",
        description="Tracked links and redirects, metric polling and signed webhooks.",
        routers=[rest.router(app, infra.public_limits())],
        grpc_services=[grpc_api.registration(grpc_api.EngagementServicer(app, infra.verifier))],
        components=[
            Lifecycle.on_start_only(store.ensure_indexes),
            journal,
            infra.supervised("journal-relay", journal_relay),
            outbox,
            PeriodicTask("metric-poller", settings.poll_interval_seconds, app.poll_due),
            Lifecycle.on_stop_only(http.aclose),
        ],
    )


def main() -> None:
    run_service(EngagementSettings, build)


if __name__ == "__main__":
    main()
