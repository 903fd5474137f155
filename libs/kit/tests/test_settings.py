import pytest
from pydantic import ValidationError

from chorus.kit.devkey import DEV_PUBLIC_KEY_PEM
from chorus.kit.settings import Environment, ServiceSettings


def test_development_defaults_use_the_dev_key() -> None:
    settings = ServiceSettings(service_name="content")
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.verification_key_pem == DEV_PUBLIC_KEY_PEM
    assert settings.database_name == "chorus_content"


def test_production_refuses_the_dev_key_and_default_issuer() -> None:
    with pytest.raises(ValidationError, match="unsafe production settings"):
        ServiceSettings(environment="production")
    with pytest.raises(ValidationError, match="development JWT key"):
        ServiceSettings(
            environment="production",
            jwt_public_key_pem=DEV_PUBLIC_KEY_PEM,
            jwt_issuer="https://idp.example",
        )


def test_production_accepts_real_keys() -> None:
    settings = ServiceSettings(
        environment="production",
        jwt_jwks_url="https://idp.example/jwks",
        jwt_issuer="https://idp.example",
    )
    assert settings.verification_key_pem == ""


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHORUS_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("CHORUS_HTTP_PORT", "9000")
    settings = ServiceSettings()
    assert (settings.kafka_bootstrap, settings.http_port) == ("kafka:9092", 9000)
    monkeypatch.setenv("CHORUS_HTTP_PORT", "99999")
    with pytest.raises(ValidationError):
        ServiceSettings()


def test_beside_a_provider_only_development_and_tests_trust_the_dev_key() -> None:
    provider = {"jwt_jwks_url": "https://idp.example/jwks", "jwt_issuer": "https://idp.example"}
    local = ServiceSettings(**provider)
    assert local.verification_key_pem == DEV_PUBLIC_KEY_PEM
    # Tokens of the development key name its own issuer, never the provider's.
    assert local.verification_key_issuer == "chorus-dev"
    assert ServiceSettings(environment="production", **provider).verification_key_pem == ""
