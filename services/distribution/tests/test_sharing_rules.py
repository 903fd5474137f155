import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from chorus.distribution.domain.accounts import Health, health, pkce_pair
from chorus.distribution.domain.posts import intent_url, post_text
from chorus.distribution.domain.sharing import (
    ALLOWED,
    FINAL,
    InvalidTransition,
    Outcome,
    PlatformAnswer,
    Status,
    can_move,
    classify,
    require_move,
)
from chorus.kit.networks import Network


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (PlatformAnswer(201, True), Outcome.POSTED),
        (PlatformAnswer(429, True), Outcome.RATE_LIMITED),
        (PlatformAnswer(401, True), Outcome.UNAUTHORIZED),
        (PlatformAnswer(403, True), Outcome.REJECTED),
        (PlatformAnswer(422, True), Outcome.REJECTED),
        (PlatformAnswer(500, True), Outcome.RETRY),
        (PlatformAnswer(503, True), Outcome.RETRY),
        (PlatformAnswer(None, False), Outcome.RETRY),
        (PlatformAnswer(None, True), Outcome.AMBIGUOUS),
    ],
)
def test_platform_answers(answer: PlatformAnswer, outcome: Outcome) -> None:
    assert classify(answer) is outcome


def test_final_states_never_move_back_to_posting() -> None:
    for status in FINAL:
        assert not can_move(status, Status.POSTING)
        assert not can_move(status, Status.QUEUED)
    assert can_move(Status.POSTING, Status.POSTED)
    assert can_move(Status.INTENT_PENDING, Status.POSTED)
    assert not can_move(Status.INTENT_PENDING, Status.POSTING)
    assert set(ALLOWED) == set(Status)


def test_every_status_change_is_checked_against_the_table() -> None:
    require_move(Status.POSTING, Status.SCHEDULED)  # a deferred retry
    require_move(Status.POSTING, Status.POSTING)  # posting again after reconciling
    with pytest.raises(InvalidTransition, match="from posted to queued"):
        require_move(Status.POSTED, Status.QUEUED)
    with pytest.raises(InvalidTransition):
        require_move(Status.FAILED, Status.POSTED)


def test_the_post_carries_the_tracked_link_and_the_disclosure_once() -> None:
    assert (
        post_text("Proud!", "https://l.test/r/abc", "#employee", True)
        == "Proud! #employee https://l.test/r/abc"
    )
    assert (
        post_text("Proud! #Employee", "https://l.test/r/abc", "#employee", True)
        == "Proud! #Employee https://l.test/r/abc"
    )
    assert (
        post_text("Proud!", "https://l.test/r/abc", "#employee", False)
        == "Proud! https://l.test/r/abc"
    )


def test_intent_urls_carry_the_tracked_link() -> None:
    link = "https://l.test/r/abc"
    facebook = urlsplit(intent_url(Network.FACEBOOK, link, "Proud!"))
    assert facebook.netloc == "www.facebook.com" and parse_qs(facebook.query) == {"u": [link]}
    x = parse_qs(urlsplit(intent_url(Network.X, link, "Proud!")).query)
    assert x == {"text": ["Proud!"], "url": [link]}
    assert parse_qs(urlsplit(intent_url(Network.LINKEDIN, link, "")).query) == {"url": [link]}
    with pytest.raises(ValueError):
        intent_url("myspace", link, "")


def test_account_health_over_time() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert health(now + timedelta(days=30), False, now, 7) is Health.ACTIVE
    assert health(now + timedelta(days=6), False, now, 7) is Health.EXPIRING
    assert health(now, False, now, 7) is Health.EXPIRED
    assert health(now + timedelta(days=30), True, now, 7) is Health.REVOKED


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    import hashlib

    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge == expected.decode()
