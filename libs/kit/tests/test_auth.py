import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from chorus.kit.auth import Principal, Role, TokenVerifier, mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM, DEV_PUBLIC_KEY_PEM
from chorus.kit.errors import ErrorCode, ProblemError

ISSUER, AUDIENCE = "chorus-dev", "chorus"


def verifier(public_pem: str = DEV_PUBLIC_KEY_PEM) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, public_key_pem=public_pem)


def token(**overrides: object) -> str:
    args: dict[str, object] = dict(
        private_key_pem=DEV_PRIVATE_KEY_PEM,
        tenant="acme",
        subject="alice",
        roles=["advocate"],
        groups=["sales"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    args.update(overrides)
    return mint_token(**args)  # type: ignore[arg-type]


def code_of(call: object) -> ErrorCode:
    with pytest.raises(ProblemError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_a_valid_token_gives_the_principal() -> None:
    principal = verifier().verify_header(f"Bearer {token()}")
    assert principal == Principal("alice", "acme", frozenset({"advocate"}), ("sales",))


def test_expired_token() -> None:
    old = token(now=time.time() - 7200, ttl_seconds=60)
    assert code_of(lambda: verifier().verify(old)) is ErrorCode.TOKEN_EXPIRED


def test_bad_signature() -> None:
    other = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    forged = token(private_key_pem=other)
    assert code_of(lambda: verifier().verify(forged)) is ErrorCode.INVALID_TOKEN


def test_tampered_claims() -> None:
    header, _payload, signature = token().split(".")
    other_payload = token(tenant="globex").split(".")[1]
    assert code_of(lambda: verifier().verify(f"{header}.{other_payload}.{signature}")) is (
        ErrorCode.INVALID_TOKEN
    )


def test_wrong_issuer_or_audience() -> None:
    assert code_of(lambda: verifier().verify(token(issuer="evil"))) is ErrorCode.INVALID_TOKEN
    assert code_of(lambda: verifier().verify(token(audience="other"))) is ErrorCode.INVALID_TOKEN


def test_missing_or_malformed_header() -> None:
    for header in (None, "", "Basic abc", "Bearer ", "Bearer not-a-jwt"):
        assert code_of(lambda h=header: verifier().verify_header(h)) in (
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.INVALID_TOKEN,
        )


def test_wrong_tenant_is_forbidden() -> None:
    principal = verifier().verify(token(tenant="acme"))
    principal.require_tenant("acme")
    assert code_of(lambda: principal.require_tenant("globex")) is ErrorCode.FORBIDDEN


def test_missing_role_is_forbidden() -> None:
    principal = verifier().verify(token(roles=["advocate"]))
    principal.require_role(Role.ADVOCATE)
    assert code_of(lambda: principal.require_role(Role.ADMIN, Role.CURATOR)) is ErrorCode.FORBIDDEN


def test_rs256_keys_work_too() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    principal = verifier(public).verify(token(private_key_pem=private))
    assert principal.tenant == "acme"
