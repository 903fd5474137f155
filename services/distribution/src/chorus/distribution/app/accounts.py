"""Connected accounts: OAuth 2.0 authorization code with PKCE and state, tokens
encrypted at rest, health shown and emitted, refresh where the platform allows.
Each connection and refresh also asks the platform for the member's audience
size, which travels on account.health for potential reach."""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Gauge

from chorus.contracts.distribution.v1.events_pb2 import AccountHealthChanged
from chorus.distribution.adapters.platforms import Platform, PlatformUnreachable, TokenGrant
from chorus.distribution.adapters.store import DistributionStore
from chorus.distribution.domain.accounts import Health, health, pkce_pair
from chorus.kit.auth import Principal, Role
from chorus.kit.crypto import TokenCipher
from chorus.kit.envelope import timestamp
from chorus.kit.errors import ErrorCode, ProblemError, Violation
from chorus.kit.metrics import Metrics
from chorus.kit.networks import Network, network_pb
from chorus.kit.outbox import outbox_entry
from chorus.kit.topics import ACCOUNT_HEALTH, advocate_key

log = logging.getLogger(__name__)
STATE_TTL = timedelta(minutes=10)
HEALTH_PB = {
    Health.ACTIVE: AccountHealthChanged.HEALTH_ACTIVE,
    Health.EXPIRING: AccountHealthChanged.HEALTH_EXPIRING,
    Health.EXPIRED: AccountHealthChanged.HEALTH_EXPIRED,
    Health.REVOKED: AccountHealthChanged.HEALTH_REVOKED,
}


@dataclass(frozen=True)
class AccountView:
    network: str
    member_id: str
    health: Health
    expires_at: datetime
    refreshable: bool


@dataclass(frozen=True)
class UsableAccount:
    member_id: str
    access_token: str


class AccountUnusable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Accounts:
    def __init__(
        self,
        store: DistributionStore,
        platforms: Mapping[Network, Platform],
        cipher: TokenCipher,
        *,
        warn_days: int,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._by_health = (
            Gauge(
                "chorus_connected_accounts",
                "Connected accounts by network and health, as of the last health check.",
                ["network", "health"],
                registry=metrics.registry,
            )
            if metrics
            else None
        )
        self._store = store
        self._platforms = platforms
        self._cipher = cipher
        self._warn_days = warn_days
        self._now = clock

    def _platform(self, network: str) -> Platform:
        known = network in set(Network)
        platform = self._platforms.get(Network(network)) if known else None
        if platform is None:
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                f"cannot connect {network!r}",
                [Violation("network", "linkedin or x (Facebook shares by intent)")],
            )
        return platform

    async def start_connect(
        self, principal: Principal, network: str, redirect_uri: str
    ) -> tuple[str, str]:
        """(authorization URL, state) for the advocate's browser."""
        principal.require_role(Role.ADVOCATE)
        platform = self._platform(network)
        if not redirect_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "redirect_uri must be https",
                [Violation("redirect_uri", "https, or loopback for development")],
            )
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        await self._store.save_oauth_state(
            state,
            {
                "tenant": principal.tenant,
                "advocate": principal.subject,
                "network": network,
                "verifier": verifier,
                "redirect_uri": redirect_uri,
                "created_at": self._now(),
            },
        )
        return platform.authorization_url("", redirect_uri, state, challenge), state

    async def complete_connect(
        self, principal: Principal, network: str, code: str, state: str
    ) -> AccountView:
        pending = await self._store.take_oauth_state(state)
        if (
            pending is None
            or pending["tenant"] != principal.tenant
            or pending["advocate"] != principal.subject
            or pending["network"] != network
            or pending["created_at"] < self._now() - STATE_TTL
        ):
            raise ProblemError(
                ErrorCode.VALIDATION_FAILED,
                "unknown or expired state",
                [Violation("state", "start the connection again")],
            )
        platform = self._platform(network)
        try:
            grant = await platform.exchange(code, pending["verifier"], pending["redirect_uri"])
            if grant is None:
                raise ProblemError(
                    ErrorCode.VALIDATION_FAILED,
                    f"{network} refused the code",
                    [Violation("code", "expired or already used")],
                )
            member, audience = await platform.connected(grant.access_token)
        except PlatformUnreachable as error:
            raise ProblemError(
                ErrorCode.UNAVAILABLE, f"{error}; connect again in a moment"
            ) from error
        await self._store_grant(
            principal.tenant, principal.subject, network, member, grant, audience
        )
        views = [v for v in await self.list(principal) if v.network == network]
        return views[0]

    async def _store_grant(
        self,
        tenant: str,
        advocate: str,
        network: str,
        member: str,
        grant: TokenGrant,
        audience: int | None,
    ) -> None:
        key = f"{tenant}:{advocate}:{network}"
        expires_at = self._now() + timedelta(seconds=grant.expires_in)
        fields: dict[str, Any] = {
            "tenant": tenant,
            "advocate": advocate,
            "network": network,
            "member_id": member,
            "access": self._cipher.encrypt(grant.access_token, key),
            "refresh": self._cipher.encrypt(grant.refresh_token, key)
            if grant.refresh_token
            else "",
            "expires_at": expires_at,
            "revoked": False,
            "connected_at": self._now(),
        }
        current = health(expires_at, False, self._now(), self._warn_days)
        fields["health"] = current.value
        event = self._health_event(tenant, advocate, network, current, expires_at, audience)
        await self._store.save_account(key, fields, [event])

    def _health_event(
        self,
        tenant: str,
        advocate: str,
        network: str,
        current: Health,
        expires_at: datetime,
        audience: int | None = None,
    ) -> dict[str, Any]:
        return outbox_entry(
            ACCOUNT_HEALTH,
            advocate_key(tenant, advocate),
            AccountHealthChanged(
                tenant=tenant,
                advocate=advocate,
                network=network_pb(network),
                health=HEALTH_PB[current],
                expires_at=timestamp(expires_at),
                audience_size=audience,
            ),
        )

    async def list(self, principal: Principal) -> list[AccountView]:
        return [
            self._view(doc)
            for doc in await self._store.accounts_of(principal.tenant, principal.subject)
        ]

    def _view(self, doc: Mapping[str, Any]) -> AccountView:
        return AccountView(
            doc["network"],
            doc["member_id"],
            health(doc["expires_at"], doc["revoked"], self._now(), self._warn_days),
            doc["expires_at"],
            bool(doc.get("refresh")),
        )

    async def usable(self, tenant: str, advocate: str, network: str) -> UsableAccount:
        """The account's token for posting now, refreshed if needed and possible."""
        doc: Mapping[str, Any] | None = await self._store.account(tenant, advocate, network)
        if doc is None:
            raise AccountUnusable("account_not_connected")
        current = self._view(doc).health
        if current is Health.REVOKED:
            raise AccountUnusable("account_revoked")
        if current is Health.EXPIRED:
            doc = await self.refresh(doc)
            if doc is None:
                raise AccountUnusable("account_expired")
        key = f"{tenant}:{advocate}:{network}"
        return UsableAccount(doc["member_id"], self._cipher.decrypt(doc["access"], key))

    async def refresh(self, doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A fresh token where the platform granted a refresh token, else None."""
        key = doc["_id"]
        if not doc.get("refresh"):
            return None
        platform = self._platforms[doc["network"]]
        grant = await platform.refresh(self._cipher.decrypt(doc["refresh"], key))
        if grant is None:
            return None
        audience = await platform.audience_size(grant.access_token, doc["member_id"])
        await self._store_grant(
            doc["tenant"], doc["advocate"], doc["network"], doc["member_id"], grant, audience
        )
        return await self._store.account(doc["tenant"], doc["advocate"], doc["network"])

    async def mark(self, tenant: str, advocate: str, network: str, *, revoked: bool) -> None:
        """The platform refused the token (401): expired or revoked, as it says."""
        doc = await self._store.account(tenant, advocate, network)
        if doc is None:
            return
        now = self._now()
        expires_at = min(doc["expires_at"], now)
        state = Health.REVOKED if revoked else Health.EXPIRED
        await self._store.save_account(
            doc["_id"],
            {"revoked": revoked, "expires_at": expires_at, "health": state.value},
            [self._health_event(tenant, advocate, network, state, expires_at)],
        )

    async def check_health(self) -> int:
        """Refresh what can be refreshed; emit an event for every health change."""
        changed = 0
        counts: Counter[tuple[str, str]] = Counter()
        for doc in await self._store.all_accounts():
            current = self._view(doc).health
            if current in (Health.EXPIRING, Health.EXPIRED) and doc.get("refresh"):
                try:
                    refreshed = await self.refresh(doc)
                except PlatformUnreachable:
                    log.warning("refresh failed; next pass retries", extra={"account": doc["_id"]})
                    refreshed = None
                if refreshed is not None:
                    counts[(doc["network"], Health.ACTIVE.value)] += 1
                    changed += 1
                    continue
            counts[(doc["network"], current.value)] += 1
            if current.value != doc.get("health"):
                await self._store.save_account(
                    doc["_id"],
                    {"health": current.value},
                    [
                        self._health_event(
                            doc["tenant"],
                            doc["advocate"],
                            doc["network"],
                            current,
                            doc["expires_at"],
                        )
                    ],
                )
                changed += 1
        if self._by_health is not None:
            for network in self._platforms:
                for state in Health:
                    self._by_health.labels(network, state.value).set(counts[(network, state.value)])
        return changed
