"""Service settings, read from CHORUS_* environment variables and checked at start."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chorus.kit.devkey import DEV_ISSUER, DEV_PUBLIC_KEY_PEM

# A topic namespace: empty, or a name and a dot ("bench-3f2a.").
TOPIC_PREFIX_PATTERN = r"^([a-z0-9][a-z0-9-]{0,40}\.)?$"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class UnsafeSettingsError(ValueError):
    """Raised when settings that are fine on a laptop are used outside development."""


class ServiceSettings(BaseSettings):
    """What every service needs. Services subclass it to add their own fields."""

    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    service_name: str = "chorus"
    log_level: str = "INFO"
    # json (one object per line, for a log pipeline) or console (one readable,
    # coloured line); empty: console in development, json otherwise.
    log_format: Literal["json", "console", ""] = ""
    # Allocations between two young-generation collections of Python's cyclic
    # GC (CPython's default is 700). A consumer decoding thousands of records a
    # batch over a large heap spent about a third of its time collecting.
    gc_young_threshold: int = Field(default=50_000, ge=700)

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic and consumer group name: a benchmark or a second
    # stack on the same broker runs in a namespace of its own (e.g. "bench-3f2a.")
    # and leaves no backlog in the services' real topics.
    topic_prefix: str = Field(default="", pattern=TOPIC_PREFIX_PATTERN)
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_database: str = ""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    grpc_port: int = Field(default=50051, ge=0, le=65535)

    # JWT verification: a PEM public key, or a JWKS URL. Development uses the
    # bundled, publicly known development key (see chorus.kit.devkey).
    jwt_public_key_pem: str = ""
    jwt_jwks_url: str = ""
    # How long the JWKS's keys are kept before they are fetched again (a new
    # key id is fetched at once; a removed key stops verifying after this).
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwt_issuer: str = DEV_ISSUER
    jwt_audience: str = "chorus"

    # Per-client limits on the routes anyone may call (redirects, webhooks,
    # OAuth callbacks): a burst, then a steady rate per second, per replica.
    public_rate_per_second: float = Field(default=20.0, gt=0)
    public_rate_burst: int = Field(default=100, ge=1)
    # Proxies in front of the service that append the caller to X-Forwarded-For
    # (1 behind one ingress). 0: the TCP peer is the client, the header is ignored.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)

    shutdown_grace_seconds: float = Field(default=10.0, gt=0)

    @property
    def resolved_log_format(self) -> str:
        if self.log_format:
            return self.log_format
        return "console" if self.environment is Environment.DEVELOPMENT else "json"

    @property
    def database_name(self) -> str:
        return self.mongo_database or f"chorus_{self.service_name}"

    @property
    def verification_key_pem(self) -> str:
        """The PEM key tokens are checked with: the configured one; else, outside
        production, the development key, beside a provider's JWKS too (the CLI
        and the tests mint with it while people sign in at the provider)."""
        if self.jwt_public_key_pem:
            return self.jwt_public_key_pem
        if self.jwt_jwks_url and self.environment is Environment.PRODUCTION:
            return ""
        return DEV_PUBLIC_KEY_PEM

    @property
    def verification_key_issuer(self) -> str:
        """The issuer of the PEM key's tokens: the development key's own beside a
        provider's JWKS, else the configured issuer."""
        if self.jwt_jwks_url and not self.jwt_public_key_pem:
            return DEV_ISSUER
        return self.jwt_issuer

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> ServiceSettings:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if not self.jwt_public_key_pem and not self.jwt_jwks_url:
            problems.append("set CHORUS_JWT_PUBLIC_KEY_PEM or CHORUS_JWT_JWKS_URL")
        if self.jwt_public_key_pem.strip() == DEV_PUBLIC_KEY_PEM.strip():
            problems.append("the development JWT key is public knowledge; configure your own")
        if self.jwt_issuer == DEV_ISSUER:
            problems.append("set CHORUS_JWT_ISSUER to your identity provider's issuer")
        if problems:
            raise UnsafeSettingsError("unsafe production settings: " + "; ".join(problems))
        return self
