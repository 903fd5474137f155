import pytest

from chorus.engagement.domain.webhooks import BadSignature, sign, verify

SECRET = "s" * 40
BODY = b'{"event_id":"e1"}'
NOW = 1_800_000_000.0


def test_a_fresh_correct_signature_passes() -> None:
    verify(SECRET, str(int(NOW)), BODY, sign(SECRET, str(int(NOW)), BODY), NOW)


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "reason"),
    [
        (None, BODY, "sha256=00", "send X-Chorus-Timestamp"),
        (str(int(NOW)), BODY, None, "send X-Chorus-Timestamp"),
        ("yesterday", BODY, "sha256=00", "Unix seconds"),
        (str(int(NOW) - 301), BODY, sign(SECRET, str(int(NOW) - 301), BODY), "replay window"),
        (str(int(NOW) + 301), BODY, sign(SECRET, str(int(NOW) + 301), BODY), "replay window"),
        (str(int(NOW)), BODY + b" ", sign(SECRET, str(int(NOW)), BODY), "does not match"),
        (str(int(NOW)), BODY, sign("other" * 8, str(int(NOW)), BODY), "does not match"),
        (str(int(NOW)), BODY, sign(SECRET, str(int(NOW) - 1), BODY), "does not match"),
        (str(int(NOW)), BODY, sign(SECRET, str(int(NOW)), BODY).upper(), "does not match"),
    ],
)
def test_bad_or_stale_signatures_are_refused(
    timestamp: str | None, body: bytes, signature: str | None, reason: str
) -> None:
    with pytest.raises(BadSignature, match=reason):
        verify(SECRET, timestamp, body, signature, NOW)
