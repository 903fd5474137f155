"""Composition root of the distribution service."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from chorus.contracts.content.v1.events_pb2 import ContentApproved, ContentRetracted, ProgramChanged
from chorus.contracts.distribution.v1.events_pb2 import ShareRequested
from chorus.distribution.adapters.content_copies import ContentCopies
from chorus.distribution.adapters.platforms import LinkedIn, Platform, X
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.adapters.tracked_links import ServiceIdentity, TrackedLinks
from chorus.distribution.api import grpc as grpc_api
from chorus.distribution.api import rest
from chorus.distribution.app.accounts import Accounts
from chorus.distribution.app.catalog import Catalog
from chorus.distribution.app.eligibility import Eligibility
from chorus.distribution.app.fan_out import FanOut
from chorus.distribution.app.posting import Posting, Timeouts
from chorus.distribution.app.read_models import ReadModels
from chorus.distribution.app.requests import ShareRequests
from chorus.distribution.app.retraction import Retraction
from chorus.distribution.app.scheduling import Scheduler
from chorus.distribution.app.share_history import ShareHistory
from chorus.distribution.app.share_moves import ShareMoves
from chorus.distribution.domain.rate_limit import Budget, Limiter
from chorus.kit.consumer import Batched, handles
from chorus.kit.crypto import DEV_TOKEN_KEYS, TokenCipher
from chorus.kit.devkey import DEV_KEY_ID, DEV_PRIVATE_KEY_PEM
from chorus.kit.networks import Network
from chorus.kit.outbox import OutboxRelay
from chorus.kit.periodic import PeriodicTask
from chorus.kit.retry import RetryPolicy
from chorus.kit.runtime import Lifecycle, ServiceRuntime
from chorus.kit.service import Infrastructure, run_service
from chorus.kit.settings import Environment, ServiceSettings, UnsafeSettingsError
from chorus.kit.topics import (
    ADVOCATE_LIFECYCLE,
    CONTENT_APPROVED,
    CONTENT_RETRACTED,
    PROGRAM_CHANGED,
    SHARE_REQUESTED,
)
from chorus.kit.tracing import traced_http_client


class DistributionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    service_name: str = "distribution"
    http_port: int = 8020
    grpc_port: int = 50520
    # AES-GCM keys for tokens at rest: "kid:base64key,...", the first one active.
    token_keys: str = DEV_TOKEN_KEYS
    # Signs the short-lived tokens distribution presents to engagement, which
    # checks them with its CHORUS_JWT_PUBLIC_KEY_PEM (the development key's
    # public half by default), as CHORUS_SERVICE_SIGNING_KEY_ID.
    service_signing_key_pem: str = DEV_PRIVATE_KEY_PEM
    service_signing_key_id: str = DEV_KEY_ID
    engagement_grpc_target: str = "127.0.0.1:50530"
    linkedin_api_base_url: str = "https://api.linkedin.com"
    # The consent pages advocates are sent to when they connect an account
    # (empty: the platforms' own; the simulator's locally).
    linkedin_authorize_url: str = ""
    x_authorize_url: str = ""
    linkedin_client_id: str = ""
    linkedin_client_secret: str = ""
    # Ask LinkedIn for each advocate's 1st-degree connections (potential reach):
    # only for apps LinkedIn has admitted to the Connections Size API.
    linkedin_connections_size: bool = False
    x_api_base_url: str = "https://api.x.com"
    x_client_id: str = ""
    x_client_secret: str = ""
    # Budgets as the platforms state them: requests per window (app-wide per replica).
    x_app_requests: int = 10_000
    x_app_window_seconds: float = 24 * 3600
    x_user_requests: int = 300
    x_user_window_seconds: float = 3 * 3600
    linkedin_app_requests: int = 100_000
    linkedin_app_window_seconds: float = 24 * 3600
    linkedin_user_requests: int = 150
    linkedin_user_window_seconds: float = 24 * 3600
    posting_concurrency: int = 50
    platform_timeout_seconds: float = 10.0
    reconcile_settle_seconds: float = 2.0
    # Attempts per post on 5xx, timeouts and unanswered requests before the
    # share fails with "retries_exhausted" (429s are deferred, never counted).
    posting_max_attempts: int = Field(default=6, ge=1, le=50)
    account_expiry_warning_days: int = 7

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> DistributionSettings:
        if self.environment is Environment.PRODUCTION and (
            self.token_keys == DEV_TOKEN_KEYS or self.service_signing_key_pem == DEV_PRIVATE_KEY_PEM
        ):
            raise UnsafeSettingsError(
                "set CHORUS_TOKEN_KEYS and CHORUS_SERVICE_SIGNING_KEY_PEM for production"
            )
        return self


def now() -> datetime:
    return datetime.now(UTC)


def build(settings: DistributionSettings) -> ServiceRuntime:
    infra = Infrastructure.build(settings)
    copies = ContentCopies(infra.db)
    store = DistributionStore(infra.db)
    relay = OutboxRelay(infra.producer, store.outbox_collections)
    http = traced_http_client(timeout=settings.platform_timeout_seconds)
    platforms: dict[Network, Platform] = {
        Network.LINKEDIN: LinkedIn(
            http,
            settings.linkedin_api_base_url,
            settings.linkedin_client_id,
            settings.linkedin_client_secret,
            connections_size=settings.linkedin_connections_size,
            authorize_url=settings.linkedin_authorize_url,
        ),
        Network.X: X(
            http,
            settings.x_api_base_url,
            settings.x_client_id,
            settings.x_client_secret,
            authorize_url=settings.x_authorize_url,
        ),
    }
    limiters = {
        Network.LINKEDIN: Limiter(
            Budget(settings.linkedin_app_requests, settings.linkedin_app_window_seconds),
            Budget(settings.linkedin_user_requests, settings.linkedin_user_window_seconds),
        ),
        Network.X: Limiter(
            Budget(settings.x_app_requests, settings.x_app_window_seconds),
            Budget(settings.x_user_requests, settings.x_user_window_seconds),
        ),
    }
    accounts = Accounts(
        store,
        platforms,
        TokenCipher.from_setting(settings.token_keys),
        warn_days=settings.account_expiry_warning_days,
        metrics=infra.metrics,
    )
    links = TrackedLinks(
        settings.engagement_grpc_target,
        ServiceIdentity(
            settings.service_signing_key_pem,
            settings.verification_key_issuer,
            settings.jwt_audience,
            settings.service_signing_key_id,
        ),
    )
    catalog = Catalog(copies)
    moves = ShareMoves(store, infra.metrics, now)
    eligibility = Eligibility(store, copies, accounts, now)
    requests = ShareRequests(store, eligibility, links, moves, now)
    history = ShareHistory(store, copies)
    posting = Posting(
        store,
        copies,
        accounts,
        platforms,
        links,
        limiters,
        moves,
        infra.metrics,
        timeouts=Timeouts(settle_seconds=settings.reconcile_settle_seconds),
        retry=RetryPolicy(max_attempts=settings.posting_max_attempts, base_delay=0.5, max_delay=30),
    )
    fan_out = FanOut(store, copies, accounts, eligibility, now)
    retraction = Retraction(store, copies, accounts, platforms, moves)
    read_models = ReadModels(store)
    scheduler = Scheduler(store, now)
    # Every handler is idempotent by itself (status compare-and-set, upserts,
    # deterministic auto-share ids): a dedupe lookup per record would only cost.
    infra.consumer(
        {
            CONTENT_APPROVED: handles(ContentApproved, fan_out.on_content_approved),
            SHARE_REQUESTED: handles(ShareRequested, posting.on_share_requested),
        },
        concurrency=settings.posting_concurrency,
        dedupe=False,
    )
    # Retractions, opt-outs and programme changes never wait behind posting work.
    infra.consumer(
        {
            CONTENT_RETRACTED: handles(ContentRetracted, retraction.on_content_retracted),
            ADVOCATE_LIFECYCLE: Batched(read_models.on_lifecycle),
            PROGRAM_CHANGED: handles(ProgramChanged, read_models.on_program_changed),
        },
        control=True,
        concurrency=8,
        dedupe=False,
    )
    return infra.runtime(
        title="Chorus distribution",
        description="Connected accounts, share requests and posting to the social networks.",
        routers=[rest.router(catalog, accounts, requests, history, infra.public_limits())],
        grpc_services=[
            grpc_api.registration(
                grpc_api.DistributionServicer(catalog, accounts, requests, history, infra.verifier)
            )
        ],
        components=[
            Lifecycle.on_start_only(copies.ensure_indexes),
            Lifecycle.on_start_only(store.ensure_indexes),
            links,
            relay,
            PeriodicTask("account-health", 300, accounts.check_health),
            PeriodicTask("share-scheduler", 1, scheduler.release_due),
            Lifecycle.on_stop_only(http.aclose),
        ],
    )


def main() -> None:
    run_service(DistributionSettings, build)


if __name__ == "__main__":
    main()
