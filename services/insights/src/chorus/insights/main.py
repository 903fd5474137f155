"""Composition root of the insights service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chorus.contracts.content.v1.events_pb2 import ContentRetracted
from chorus.insights.adapters.store import InsightsStore
from chorus.insights.api import grpc as grpc_api
from chorus.insights.api import rest
from chorus.insights.app.ingest import Ingest
from chorus.insights.app.reports import Reports
from chorus.kit.consumer import Batched, handles
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import (
    ACCOUNT_HEALTH,
    ADVOCATE_LIFECYCLE,
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    ENGAGEMENT_OBSERVED,
    POINTS_AWARDED,
    SHARE_PERFORMED,
)


class InsightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "insights"
    http_port: int = 8050
    grpc_port: int = 50550
    # Figures for a group with fewer enrolled advocates are suppressed, not shown.
    min_group_size: int = Field(default=5, ge=1, le=1000)


def build(settings: InsightsSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    store = InsightsStore(infra.db)
    ingest = Ingest(store)
    reports = Reports(store, min_group_size=settings.min_group_size)
    # Every handler is idempotent by itself (events counted once by id in a
    # transaction; read models keep the newest change): no dedupe record.
    infra.consumer(
        {
            SHARE_PERFORMED: Batched(ingest.on_shares_performed),
            ENGAGEMENT_OBSERVED: Batched(ingest.on_engagement_observed),
            CONTENT_APPROVED: Batched(ingest.on_content_approved),
            ACCOUNT_HEALTH: Batched(ingest.on_account_health),
            POINTS_AWARDED: Batched(ingest.on_points_awarded),
        },
        dedupe=False,
    )
    # An opt-out or an erasure takes effect at once, whatever the backlog above
    # (the store drops an erased advocate's activity that comes after).
    infra.consumer(
        {
            ADVOCATE_LIFECYCLE: Batched(ingest.on_lifecycle),
            CONTENT_RETRACTED: handles(ContentRetracted, ingest.on_content_retracted),
        },
        control=True,
        dedupe=False,
    )
    return infra.runtime(
        title="Chorus insights",
        description="The programme's analytics: participation, engagement, concentration, "
        "earned media value, exports.",
        routers=[rest.router(reports)],
        grpc_services=[grpc_api.registration(grpc_api.InsightsServicer(reports, infra.verifier))],
        components=[
            Lifecycle.on_start_only(store.ensure_indexes),
            Lifecycle.on_start_only(store.start_rollups),
        ],
    )


def main() -> None:
    run_service(InsightsSettings, build)


if __name__ == "__main__":
    main()
