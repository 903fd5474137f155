"""Sign-in at the OpenID Connect provider: Authorization Code with PKCE (S256),
the code exchange, silent refresh and the provider's sign-out, with authlib's
OAuth 2 client; the ID token is verified against the provider's JWKS (the
kit's key cache, which also serves the services) for issuer, audience and nonce.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.httpx_client import OAuthError as AuthlibError

from chorus.kit.jwks import JwksKeys, fetch_json


class SignInFailed(Exception):
    """The provider refused, or answered something that cannot be trusted."""


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    id_token: str
    access_expires_at: float

    @classmethod
    def of(cls, answer: dict[str, Any], previous: Tokens | None = None) -> Tokens:
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise SignInFailed("the provider sent no access token")
        return cls(
            access_token=access,
            # A refresh may not repeat the refresh or ID token: keep the last ones.
            refresh_token=str(
                answer.get("refresh_token") or (previous.refresh_token if previous else "")
            ),
            id_token=str(answer.get("id_token") or (previous.id_token if previous else "")),
            access_expires_at=time.time() + float(answer.get("expires_in", 60)),
        )


@dataclass(frozen=True)
class Identity:
    subject: str
    tenant: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    name: str
    locale: str


class OidcClient:
    def __init__(self, issuer: str, client_id: str, client_secret: str, scopes: str) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret or None
        self._scopes = scopes
        self._metadata: dict[str, Any] | None = None
        self._keys: JwksKeys | None = None

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once; retried until it answers)."""
        if self._metadata is None:
            try:
                document = await fetch_json(f"{self._issuer}/.well-known/openid-configuration")
            except (httpx.HTTPError, ValueError) as error:
                raise SignInFailed(f"the identity provider cannot be reached: {error}") from error
            if document.get("issuer") != self._issuer:
                raise SignInFailed(f"the provider calls itself {document.get('issuer')!r}")
            self._metadata = document
            self._keys = JwksKeys(str(document["jwks_uri"]))
        return self._metadata

    def _client(self, redirect_uri: str = "") -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_basic" if self._client_secret else "none",
            scope=self._scopes,
            redirect_uri=redirect_uri or None,
            code_challenge_method="S256",
            timeout=10,
        )

    async def authorization(self, redirect_uri: str, locale: str = "") -> Authorization:
        metadata = await self.metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        extra = {"ui_locales": locale} if locale else {}
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
                **extra,
            )
        return Authorization(url, state, nonce, verifier)

    async def exchange(self, redirect_uri: str, code: str, code_verifier: str) -> Tokens:
        metadata = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                answer = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except (AuthlibError, httpx.HTTPError) as error:
                raise SignInFailed(f"the provider refused the code: {error}") from error
        return Tokens.of(dict(answer))

    async def refresh(self, tokens: Tokens) -> Tokens:
        """New tokens for a session whose access token is about to expire; fails
        when the provider's session has ended (signed out elsewhere, idle)."""
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                answer = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=tokens.refresh_token
                )
            except (AuthlibError, httpx.HTTPError) as error:
                raise SignInFailed(f"the provider refused the refresh: {error}") from error
        return Tokens.of(dict(answer), previous=tokens)

    async def identity(self, tokens: Tokens, nonce: str) -> Identity:
        """Who signed in, from the verified ID token."""
        await self.metadata()
        assert self._keys is not None
        try:
            key = await self._keys.key_for(tokens.id_token)
            claims = jwt.decode(
                tokens.id_token,
                key,
                algorithms=["RS256", "ES256", "EdDSA"],
                audience=self._client_id,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except Exception as error:  # PyJWT's errors, or the key cache's problem
            raise SignInFailed(f"the ID token is not valid: {error}") from error
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("the ID token answers another sign-in (nonce)")
        tenant = claims.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise SignInFailed("the ID token names no tenant: the provider maps none")
        return Identity(
            subject=str(claims["sub"]),
            tenant=tenant,
            roles=_strings(claims.get("roles")),
            groups=_strings(claims.get("groups")),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            locale=str(claims.get("locale") or ""),
        )

    async def sign_out_url(self, id_token: str, post_logout_redirect_uri: str) -> str:
        """Where the browser goes to end the provider's session too."""
        metadata = await self.metadata()
        endpoint = metadata.get("end_session_endpoint")
        if not endpoint:
            return post_logout_redirect_uri
        query = {
            "client_id": self._client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            **({"id_token_hint": id_token} if id_token else {}),
        }
        return f"{endpoint}?{urlencode(query)}"


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()
