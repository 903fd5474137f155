import pytest
from pydantic import ValidationError

from chorus.hub.main import HubSettings

REAL = {
    "environment": "production",
    "jwt_jwks_url": "https://id.acme.example/realms/acme/protocol/openid-connect/certs",
    "jwt_issuer": "https://id.acme.example/realms/acme",
}


def test_production_needs_https_for_the_hub_and_its_provider() -> None:
    with pytest.raises(ValidationError, match="CHORUS_PUBLIC_BASE_URL must be an https"):
        HubSettings(**REAL)
    settings = HubSettings(
        **REAL,
        public_base_url="https://hub.acme.example",
        oidc_issuer="https://id.acme.example/realms/acme",
    )
    assert settings.secure_cookies


def test_a_laptop_runs_on_plain_http_with_cookies_that_are_not_secure() -> None:
    assert not HubSettings().secure_cookies
