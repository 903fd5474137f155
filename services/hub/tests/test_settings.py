import base64
import os

import pytest
from pydantic import ValidationError

from chorus.hub.main import HubSettings

REAL = {
    "environment": "production",
    "jwt_jwks_url": "https://id.acme.example/realms/acme/protocol/openid-connect/certs",
    "jwt_issuer": "https://id.acme.example/realms/acme",
}


def test_production_needs_https_and_a_session_key_of_its_own() -> None:
    with pytest.raises(ValidationError, match="CHORUS_PUBLIC_BASE_URL must be an https"):
        HubSettings(**REAL)
    https = {
        "public_base_url": "https://hub.acme.example",
        "oidc_issuer": "https://id.acme.example/realms/acme",
    }
    with pytest.raises(ValidationError, match="CHORUS_SESSION_TOKEN_KEYS"):
        HubSettings(**REAL, **https)
    key = base64.b64encode(os.urandom(32)).decode()
    settings = HubSettings(**REAL, **https, session_token_keys=f"k1:{key}")
    assert settings.secure_cookies


def test_a_laptop_runs_on_plain_http_with_cookies_that_are_not_secure() -> None:
    assert not HubSettings().secure_cookies
