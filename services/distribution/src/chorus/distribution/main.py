"""Composition root of the distribution service."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.api import grpc as grpc_api
from chorus.distribution.api import rest
from chorus.distribution.app.catalog import Catalog
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import CONTENT_APPROVED, CONTENT_RETRACTED


class DistributionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "distribution"
    http_port: int = 8020
    grpc_port: int = 50520


def build(settings: DistributionSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    copies = ContentCopies(infra.db)
    catalog = Catalog(copies)
    infra.consumer(
        {
            CONTENT_APPROVED: catalog.on_content_approved,
            CONTENT_RETRACTED: catalog.on_content_retracted,
        }
    )
    return infra.runtime(
        title="Chorus distribution",
        description="Connected accounts, share requests and posting to the social networks.",
        routers=[rest.router(catalog)],
        grpc_services=[
            grpc_api.registration(grpc_api.DistributionServicer(catalog, infra.verifier))
        ],
        components=[Lifecycle.on_start_only(copies.ensure_indexes)],
    )


def main() -> None:
    run_service(DistributionSettings, build)


if __name__ == "__main__":
    main()
