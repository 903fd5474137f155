"""Tokens at rest (a platform's at distribution, the identity provider's in
the hub's sessions) are encrypted with AES-GCM. Each ciphertext names its key
id, so keys can rotate: new tokens use the active key, old ones stay readable
while their key is still configured."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Public on purpose, like the development JWT key: refused in production.
DEV_TOKEN_KEYS = "dev1:" + base64.b64encode(b"chorus-development-only-key-32b!").decode()


class TokenUnreadable(ValueError):
    """A ciphertext under a key no longer configured, altered, or sealed for
    another context."""


class TokenCipher:
    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active token key {active!r} is not configured")
        for kid, key in keys.items():
            if len(key) not in (16, 24, 32):
                raise ValueError(f"token key {kid!r} must be 16, 24 or 32 bytes")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active

    @classmethod
    def from_setting(cls, value: str, active: str = "") -> TokenCipher:
        """`value`: "kid:base64key,kid2:base64key"; the first is active unless named."""
        keys = {}
        for part in value.split(","):
            kid, _, encoded = part.strip().partition(":")
            keys[kid] = base64.b64decode(encoded)
        return cls(keys, active or next(iter(keys)))

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._active].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self._active}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        kid, _, encoded = token.partition(":")
        if kid not in self._keys:
            raise TokenUnreadable(f"token key {kid!r} is no longer configured")
        raw = base64.b64decode(encoded)
        try:
            return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as error:
            raise TokenUnreadable("the token was altered or sealed for another context") from error
