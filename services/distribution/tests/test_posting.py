"""The posting use case against fakes of its ports: what it posts, what it
announces, and that it never posts twice — whatever the platform answers."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.contracts.distribution.v1.events_pb2 import ShareRequested
from chorus.distribution.adapters.platforms import PostAttempt
from chorus.distribution.app.accounts import AccountUnusable, UsableAccount
from chorus.distribution.app.posting import Posting, Timeouts
from chorus.distribution.app.share_moves import ShareMoves
from chorus.distribution.domain.model import Member, Mode, NetworkShare, PostingRules, Share
from chorus.distribution.domain.rate_limit import Budget, Limiter
from chorus.distribution.domain.sharing import PlatformAnswer, Status, require_move
from chorus.kit.envelope import Envelope
from chorus.kit.metrics import Metrics
from chorus.kit.networks import Network, network_pb
from chorus.kit.retry import RetryPolicy

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LINK = "https://go.example/r/abc123"


class FakeStore:
    """The store's compare-and-set and state-machine check, in memory."""

    def __init__(self, share: Share, member: Member | None) -> None:
        self.shares = {share.id: share}
        self.member = member
        self.events: list[str] = []

    async def share(self, share_id: str) -> Share | None:
        found = self.shares.get(share_id)
        return dataclasses.replace(found, networks=dict(found.networks)) if found else None

    async def advocate(self, tenant: str, advocate: str) -> Member | None:
        return self.member

    async def program(self, tenant: str) -> PostingRules:
        return PostingRules(disclosure="#ad", auto_append=True)

    async def account(self, tenant: str, advocate: str, network: str) -> dict[str, Any] | None:
        return {"tenant": tenant}

    async def move(
        self,
        share_id: str,
        network: Network,
        expected: Status,
        to: Status,
        *,
        events: Any = (),
        scheduled: bool | None = None,
        **changes: Any,
    ) -> bool:
        require_move(expected, to)
        share = self.shares[share_id]
        entry = share.networks[network]
        if entry.status is not expected:
            return False
        share.networks[network] = dataclasses.replace(entry, status=to, **changes)
        if scheduled is not None:
            share.scheduled = scheduled
        self.events += [event["topic"] for event in events]
        return True

    def entry(self) -> NetworkShare:
        return next(iter(self.shares.values())).networks[Network.LINKEDIN]


class FakeCopies:
    def __init__(self, retracted: bool = False) -> None:
        self.retracted = retracted

    async def get(self, tenant: str, content_id: str) -> tuple[ContentApproved, bool]:
        item = ContentApproved(tenant=tenant, content_id=content_id, title="Our new plant")
        return item, self.retracted


class FakeAccounts:
    def __init__(self, unusable: str = "") -> None:
        self.unusable = unusable

    async def usable(self, tenant: str, advocate: str, network: str) -> UsableAccount:
        if self.unusable:
            raise AccountUnusable(self.unusable)
        return UsableAccount("member-1", "token-1")

    async def refresh(self, doc: Any) -> None:
        return None

    async def mark(self, tenant: str, advocate: str, network: str, *, revoked: bool) -> None:
        self.unusable = "account_expired"


class FakePlatform:
    """Answers each post with the next scripted answer; a post it accepted
    (even unanswered) can be found by its link."""

    def __init__(self, *answers: PostAttempt, already_posted: bool = False) -> None:
        self.answers = list(answers)
        self.posted: list[str] = [LINK] if already_posted else []
        self.requests: list[str] = []

    async def post(self, token: str, member: str, text: str, link: str, title: str) -> PostAttempt:
        self.requests.append(text)
        answer = self.answers.pop(0)
        if answer.answer.sent and (answer.answer.status or 200) < 300:
            self.posted.append(link)
        return answer

    async def find_post(self, token: str, member: str, link: str) -> str | None:
        return "urn:li:share:found" if link in self.posted else None


class FakeLinks:
    async def link_for(self, share: Share, network: Network, url: str) -> str:
        return LINK


def posted(ref: str = "urn:li:share:1") -> PostAttempt:
    return PostAttempt(PlatformAnswer(201, sent=True), post_ref=ref)


def answered(status: int, reason: str = "", reset_at: float = 0.0) -> PostAttempt:
    return PostAttempt(PlatformAnswer(status, sent=True), reason=reason, reset_at=reset_at)


NO_ANSWER = PostAttempt(PlatformAnswer(None, sent=True))


def a_share(status: Status = Status.QUEUED, attempted: bool = False) -> Share:
    entry = NetworkShare(Mode.API, status, "Proud of this", attempted=attempted)
    return Share("s1", "acme", "ada", "item-1", NOW, {Network.LINKEDIN: entry})


def posting(
    store: FakeStore,
    platform: FakePlatform,
    *,
    copies: FakeCopies | None = None,
    accounts: FakeAccounts | None = None,
    max_attempts: int = 6,
) -> Posting:
    metrics = Metrics()
    budget = Budget(1000, 60)
    return Posting(
        store,  # type: ignore[arg-type]
        copies or FakeCopies(),  # type: ignore[arg-type]
        accounts or FakeAccounts(),  # type: ignore[arg-type]
        {Network.LINKEDIN: platform},  # type: ignore[dict-item]
        FakeLinks(),  # type: ignore[arg-type]
        {Network.LINKEDIN: Limiter(budget, budget)},
        ShareMoves(store, metrics, lambda: NOW),  # type: ignore[arg-type]
        metrics,
        retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.01),
        timeouts=Timeouts(settle_seconds=0.0),
    )


async def request(posting: Posting) -> None:
    work = ShareRequested(
        tenant="acme", advocate="ada", share_id="s1", network=network_pb(Network.LINKEDIN)
    )
    await posting.on_share_requested(work, Envelope.__new__(Envelope))


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(a_share(), Member(enrolled=True))


async def test_posts_the_commentary_with_disclosure_and_link_once_and_announces_it(
    store: FakeStore,
) -> None:
    platform = FakePlatform(posted())
    worker = posting(store, platform)
    await request(worker)
    await request(worker)  # a redelivery
    assert platform.requests == [f"Proud of this #ad {LINK}"]
    entry = store.entry()
    assert (entry.status, entry.post_ref, entry.performed_at) == (
        Status.POSTED,
        "urn:li:share:1",
        NOW,
    )
    assert store.events == ["share.performed"]


async def test_an_unanswered_post_that_reached_the_platform_is_found_not_posted_again(
    store: FakeStore,
) -> None:
    platform = FakePlatform(NO_ANSWER)
    await request(posting(store, platform))
    assert len(platform.requests) == 1
    assert (store.entry().status, store.entry().post_ref) == (Status.POSTED, "urn:li:share:found")
    assert store.events == ["share.performed"]


async def test_after_a_crash_mid_post_it_reconciles_before_posting() -> None:
    store = FakeStore(a_share(Status.POSTING, attempted=True), Member(enrolled=True))
    platform = FakePlatform(posted(), already_posted=True)
    await request(posting(store, platform))
    assert platform.requests == []
    assert store.entry().status is Status.POSTED


async def test_a_429_defers_the_post_until_the_platform_resets(store: FakeStore) -> None:
    reset = time.time() + 900
    await request(posting(store, FakePlatform(answered(429, reset_at=reset))))
    entry = store.entry()
    assert entry.status is Status.SCHEDULED and store.shares["s1"].scheduled
    assert entry.not_before == datetime.fromtimestamp(reset, UTC)
    assert store.events == []


async def test_a_refusal_fails_the_share_with_the_platforms_reason(store: FakeStore) -> None:
    platform = FakePlatform(answered(422, "duplicate content"))
    await request(posting(store, platform))
    assert store.entry().status is Status.FAILED
    assert store.entry().failure == "rejected: duplicate content"
    assert store.events == ["share.failed"]


async def test_server_errors_fail_the_share_once_retries_are_exhausted(store: FakeStore) -> None:
    platform = FakePlatform(answered(503))
    await request(posting(store, platform, max_attempts=1))
    assert store.entry().failure.startswith("retries_exhausted")
    assert store.events == ["share.failed"]


@pytest.mark.parametrize(
    ("member", "copies", "accounts", "failure"),
    [
        (None, FakeCopies(), FakeAccounts(), "not_enrolled"),
        (Member(enrolled=True), FakeCopies(retracted=True), FakeAccounts(), "content_retracted"),
        (Member(enrolled=True), FakeCopies(), FakeAccounts("account_revoked"), "account_revoked"),
    ],
)
async def test_nothing_is_posted_for_a_departed_advocate_a_withdrawn_item_or_a_dead_account(
    member: Member | None, copies: FakeCopies, accounts: FakeAccounts, failure: str
) -> None:
    store = FakeStore(a_share(), member)
    platform = FakePlatform(posted())
    await request(posting(store, platform, copies=copies, accounts=accounts))
    assert platform.requests == []
    assert store.entry().failure.startswith(failure)
    assert store.events == ["share.failed"]
