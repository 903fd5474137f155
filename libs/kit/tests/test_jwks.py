"""The JWKS key cache with a fake provider and clock: a rotation's new key
verifies at once, a removed key stops verifying at the next fetch, made-up key
ids do not make every request call the provider, and an unreachable provider
leaves the last keys in use."""

import asyncio
import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from chorus.kit.auth import TokenVerifier, mint_token
from chorus.kit.errors import ErrorCode, ProblemError
from chorus.kit.jwks import JwksKeys

ISSUER, AUDIENCE = "https://id.example/realms/acme", "chorus"


def keypair() -> tuple[str, dict[str, Any]]:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))


class Provider:
    """A JWKS endpoint whose keys the test changes; counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        self.down = False

    async def fetch(self, url: str) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            raise httpx.ConnectError("the provider is down")
        return {"keys": [{**jwk, "kid": kid, "alg": "EdDSA"} for kid, jwk in self.keys.items()]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signed(private_pem: str, kid: str, issuer: str = ISSUER) -> str:
    return mint_token(
        private_key_pem=private_pem,
        tenant="acme",
        subject="alice",
        roles=["advocate"],
        issuer=issuer,
        audience=AUDIENCE,
        key_id=kid,
    )


def setup() -> tuple[Provider, Clock, TokenVerifier]:
    provider, clock = Provider(), Clock()
    keys = JwksKeys(
        "https://id.example/jwks",
        ttl_seconds=300,
        refetch_seconds=10,
        fetch=provider.fetch,
        clock=clock,
    )
    return provider, clock, TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=keys)


def code_of(verifier: TokenVerifier, token: str) -> ErrorCode | None:
    try:
        asyncio.run(verifier.authenticate(f"Bearer {token}"))
    except ProblemError as problem:
        return problem.code
    return None


def test_a_rotation_verifies_the_new_key_at_once_and_drops_the_old_one_after_the_ttl() -> None:
    provider, clock, verifier = setup()
    (old_pem, old_jwk), (new_pem, new_jwk) = keypair(), keypair()
    provider.keys = {"old": old_jwk}
    assert code_of(verifier, signed(old_pem, "old")) is None
    assert provider.fetches == 1

    provider.keys = {"old": old_jwk, "new": new_jwk}  # the overlap
    clock.now += 11
    assert code_of(verifier, signed(new_pem, "new")) is None  # an unknown kid: fetched again
    assert code_of(verifier, signed(old_pem, "old")) is None
    assert provider.fetches == 2

    provider.keys = {"new": new_jwk}  # the old key retired
    clock.now += 300
    assert code_of(verifier, signed(old_pem, "old")) is ErrorCode.INVALID_TOKEN
    assert code_of(verifier, signed(new_pem, "new")) is None


def test_made_up_key_ids_fetch_at_most_once_per_interval() -> None:
    provider, clock, verifier = setup()
    pem, jwk = keypair()
    provider.keys = {"k1": jwk}
    assert code_of(verifier, signed(pem, "k1")) is None
    for n in range(50):
        assert code_of(verifier, signed(pem, f"forged-{n}")) is ErrorCode.INVALID_TOKEN
    assert provider.fetches == 1
    clock.now += 10
    assert code_of(verifier, signed(pem, "forged-again")) is ErrorCode.INVALID_TOKEN
    assert provider.fetches == 2


def test_an_unreachable_provider_leaves_the_last_keys_in_use() -> None:
    provider, clock, verifier = setup()
    pem, jwk = keypair()
    provider.keys = {"k1": jwk}
    assert code_of(verifier, signed(pem, "k1")) is None
    provider.down = True
    clock.now += 301
    assert code_of(verifier, signed(pem, "k1")) is None


def test_no_keys_at_all_is_unavailable_not_a_bad_token() -> None:
    provider, _, verifier = setup()
    provider.down = True
    pem, _ = keypair()
    assert code_of(verifier, signed(pem, "k1")) is ErrorCode.UNAVAILABLE


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt"])
def test_malformed_headers_are_refused(header: str | None) -> None:
    _, _, verifier = setup()
    with pytest.raises(ProblemError) as caught:
        asyncio.run(verifier.authenticate(header))
    assert caught.value.code in (ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_TOKEN)


def test_beside_a_provider_the_development_key_keeps_its_own_issuer() -> None:
    from chorus.kit.devkey import DEV_ISSUER, DEV_KEY_ID, DEV_PRIVATE_KEY_PEM, DEV_PUBLIC_KEY_PEM

    provider, clock = Provider(), Clock()
    private_pem, jwk = keypair()
    provider.keys["k1"] = jwk
    keys = JwksKeys("https://id.example/jwks", fetch=provider.fetch, clock=clock)
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks=keys,
        public_key_pem=DEV_PUBLIC_KEY_PEM,
        pem_issuer=DEV_ISSUER,
    )

    assert code_of(verifier, signed(private_pem, "k1")) is None
    assert code_of(verifier, signed(DEV_PRIVATE_KEY_PEM, DEV_KEY_ID, DEV_ISSUER)) is None
    # The public development key cannot mint tokens in the provider's name.
    forged = signed(DEV_PRIVATE_KEY_PEM, DEV_KEY_ID, ISSUER)
    assert code_of(verifier, forged) is ErrorCode.INVALID_TOKEN
