import base64

import pytest

from chorus.kit.crypto import TokenCipher, TokenUnreadable

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()


def test_tokens_are_sealed_for_their_context_and_keys_rotate() -> None:
    old = TokenCipher.from_setting(K1)
    sealed = old.encrypt("secret-token", "acme:bob:x")
    assert "secret-token" not in sealed and sealed.startswith("k1:")
    assert old.decrypt(sealed, "acme:bob:x") == "secret-token"
    with pytest.raises(TokenUnreadable, match="another context"):
        old.decrypt(sealed, "acme:eve:x")  # copied to another account or session
    rotated = TokenCipher.from_setting(f"{K2},{K1}")
    assert rotated.decrypt(sealed, "acme:bob:x") == "secret-token"
    assert rotated.encrypt("t", "c").startswith("k2:")
    with pytest.raises(TokenUnreadable, match="no longer configured"):
        TokenCipher.from_setting(K2).decrypt(sealed, "acme:bob:x")  # k1 retired
