"""JWT bearer tokens: claims sub (the user), tenant, roles, groups.

Verified with RS256 or EdDSA keys from a PEM or a JWKS URL. The tenant always
comes from the token, so a caller can never reach another tenant's data.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.jwks import JwksKeys
from chorus.kit.settings import ServiceSettings

ALGORITHMS = ["EdDSA", "RS256"]


class Role(StrEnum):
    ADMIN = "admin"
    CURATOR = "curator"
    APPROVER = "approver"
    ADVOCATE = "advocate"
    SERVICE = "service"  # another Chorus service acting for an advocate of the tenant


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant: str
    roles: frozenset[str]
    groups: tuple[str, ...] = ()

    def has_role(self, *roles: Role) -> bool:
        return any(role.value in self.roles for role in roles)

    def require_role(self, *roles: Role) -> None:
        if not self.has_role(*roles):
            wanted = " or ".join(role.value for role in roles)
            raise ProblemError(ErrorCode.FORBIDDEN, f"this call needs the role {wanted}")

    def require_tenant(self, tenant: str) -> None:
        if tenant != self.tenant:
            raise ProblemError(ErrorCode.FORBIDDEN, "the token is not valid for this tenant")


class TokenVerifier:
    """Verifies tokens with a PEM public key, or with the keys of a JWKS URL
    (JwksKeys: cached, refetched on a new key id); with both, a token whose key
    id the JWKS lacks is tried with the PEM key (the development key beside a
    real provider), against the PEM key's own issuer when it has one."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str = "",
        jwks: JwksKeys | None = None,
        pem_issuer: str = "",
    ) -> None:
        if not public_key_pem and jwks is None:
            raise ValueError("a verifier needs a public key or a JWKS URL")
        self._issuer = issuer
        self._audience = audience
        self._key = public_key_pem
        self._jwks = jwks
        self._pem_issuer = pem_issuer or issuer

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            public_key_pem=settings.verification_key_pem,
            jwks=JwksKeys(settings.jwt_jwks_url, ttl_seconds=settings.jwt_jwks_cache_seconds)
            if settings.jwt_jwks_url
            else None,
            pem_issuer=settings.verification_key_issuer,
        )

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller of an `Authorization: Bearer <token>` header."""
        token = _bearer(authorization)
        if self._jwks is None:
            return self.verify(token)
        try:
            key = await self._jwks.key_for(token)
        except ProblemError:
            if not self._key:
                raise
            return self._verified(token, self._key, self._pem_issuer)
        return self._verified(token, key, self._issuer)

    def verify_header(self, authorization: str | None) -> Principal:
        """Like authenticate, for a verifier with a PEM key only."""
        return self.verify(_bearer(authorization))

    def verify(self, token: str) -> Principal:
        """A token checked with the PEM key (see authenticate for JWKS)."""
        if not self._key:
            raise ValueError("this verifier has only a JWKS URL: use authenticate()")
        return self._verified(token, self._key, self._pem_issuer)

    def _verified(self, token: str, key: Any, issuer: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ProblemError(ErrorCode.TOKEN_EXPIRED, "the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise ProblemError(ErrorCode.INVALID_TOKEN, f"the token is not valid: {exc}") from exc
        tenant = claims.get("tenant")
        roles = claims.get("roles", [])
        groups = claims.get("groups", [])
        if not isinstance(tenant, str) or not tenant:
            raise ProblemError(ErrorCode.INVALID_TOKEN, "the token has no tenant claim")
        if not _strings(roles) or not _strings(groups):
            raise ProblemError(ErrorCode.INVALID_TOKEN, "roles and groups must be lists of strings")
        return Principal(str(claims["sub"]), tenant, frozenset(roles), tuple(groups))


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(ErrorCode.UNAUTHENTICATED, "send 'Authorization: Bearer <token>'")
    return token.strip()


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def mint_token(
    *,
    private_key_pem: str,
    tenant: str,
    subject: str,
    roles: Iterable[str],
    groups: Iterable[str] = (),
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    key_id: str | None = None,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "tenant": tenant,
        "roles": sorted(set(roles)),
        "groups": list(groups),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError("signing keys must be RSA (RS256) or Ed25519 (EdDSA)")
    algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "EdDSA"
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def dev_authorization(
    tenant: str, subject: str, roles: Iterable[str], groups: Iterable[str] = ()
) -> dict[str, str]:
    """An Authorization header signed with the published development key, which
    local services trust (and production settings refuse)."""
    from chorus.kit.devkey import DEV_ISSUER, DEV_KEY_ID, DEV_PRIVATE_KEY_PEM

    token = mint_token(
        private_key_pem=DEV_PRIVATE_KEY_PEM,
        key_id=DEV_KEY_ID,
        tenant=tenant,
        subject=subject,
        roles=roles,
        groups=groups,
        issuer=DEV_ISSUER,
        audience="chorus",
    )
    return {"Authorization": f"Bearer {token}"}
