from datetime import UTC, datetime

from chorus.content.domain.compliance import check_item, commentary_length, with_disclosure
from chorus.content.domain.model import Commentary, Item, ItemKind, Network, Program

PROGRAM = Program(
    tenant="acme",
    disclosure="#employee",
    disclosure_auto_append=False,
    banned_terms=("guaranteed returns", "confidential"),
    allowed_domains=("acme.example",),
)


def item(**changes: object) -> Item:
    base = dict(
        tenant="acme",
        id="i",
        author="c",
        kind=ItemKind.CURATED,
        title="Plant opens",
        url="https://www.acme.example/plant",
        commentaries=(Commentary(Network.LINKEDIN, "Proud! #employee"),),
    )
    base.update(changes)
    return Item(**base)  # type: ignore[arg-type]


def rules(i: Item, program: Program = PROGRAM) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in check_item(i, program)]


def test_a_compliant_item_has_no_violations() -> None:
    assert rules(item()) == []


def test_every_violation_is_reported_at_once() -> None:
    bad = item(
        url="https://evil.example/x",
        title="Confidential numbers",
        commentaries=(
            Commentary(Network.X, "Guaranteed returns " + "a" * 300),
            Commentary(Network.LINKEDIN, "no disclosure"),
        ),
    )
    assert rules(bad) == [
        ("url", "domain_not_allowed"),
        ("title", "banned_term"),
        ("commentaries[0].text", "banned_term"),
        ("commentaries[0].text", "disclosure_missing"),
        ("commentaries[0].text", "too_long"),
        ("commentaries[1].text", "disclosure_missing"),
    ]


def test_invalid_urls() -> None:
    for url in ("not a url", "ftp://acme.example/x", "https://", "javascript:alert(1)"):
        assert ("url", "invalid_url") in rules(item(url=url)), url


def test_banned_terms_match_whole_words_only() -> None:
    assert rules(item(summary="nonconfidential")) == []
    assert ("summary", "banned_term") in rules(item(summary="CONFIDENTIAL."))


def test_x_counts_a_link_as_23_characters() -> None:
    link = "https://acme.example/" + "x" * 200
    text = "a" * 257 + link  # 257 + 23 = 280
    assert commentary_length(Network.X, text) == 280
    program = Program(tenant="acme", disclosure_auto_append=True, disclosure="")
    assert rules(item(url=link, commentaries=(Commentary(Network.X, text),)), program) == []
    longer = (Commentary(Network.X, "a" + text),)
    assert rules(item(url=link, commentaries=longer), program) == [
        ("commentaries[0].text", "too_long")
    ]


def test_linkedin_allows_3000_characters_including_the_appended_disclosure() -> None:
    program = Program(tenant="acme", disclosure="#employee", disclosure_auto_append=True)
    assert rules(item(commentaries=(Commentary(Network.LINKEDIN, "a" * 2990),)), program) == []
    assert rules(item(commentaries=(Commentary(Network.LINKEDIN, "a" * 2991),)), program) == [
        ("commentaries[0].text", "too_long")
    ]


def test_disclosure_is_appended_once() -> None:
    program = Program(tenant="acme", disclosure="#employee", disclosure_auto_append=True)
    assert with_disclosure("Hello", program) == "Hello #employee"
    assert with_disclosure("Hello #Employee", program) == "Hello #Employee"


def test_expiry_must_follow_publication() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules(item(publish_at=when, expires_at=when)) == [("expires_at", "invalid_window")]
