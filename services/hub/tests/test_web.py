"""The hub's pure pieces: both languages say everything the pages ask for,
forms from other sites are refused, and sign-in never redirects off the hub."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from chorus.hub.adapters.api import ApiProblem
from chorus.hub.web import i18n
from chorus.hub.web.accounts import needs_reconnect, shown
from chorus.hub.web.auth import safe_return_path
from chorus.hub.web.curation import form_of, item_body, violations_by_field
from chorus.hub.web.security import csrf_ok

OWN = "http://127.0.0.1:8060"
# t("key") and t('key') in templates, and the keys they build ("network." ~ ...).
USED = re.compile(r"""t\(\s*["']([a-z_]+\.[a-z_]+)["'](?!\s*~)""")
BUILT = re.compile(r"""t\(\s*["']([a-z_]+\.[a-z_]*)["']\s*~""")


def templates() -> dict[str, str]:
    folder = resources.files("chorus.hub.web").joinpath("templates")
    return {f.name: f.read_text() for f in folder.iterdir() if f.name.endswith(".html")}


def test_english_and_italian_have_the_same_messages() -> None:
    assert set(i18n.catalogue("en")) == set(i18n.catalogue("it"))


def test_every_message_a_page_shows_exists() -> None:
    used = {key for text in templates().values() for key in USED.findall(text)}
    assert used, "the templates ask for messages"
    assert used - set(i18n.catalogue("en")) == set()
    prefixes = {prefix for text in templates().values() for prefix in BUILT.findall(text)}
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in i18n.catalogue("en")), prefix


def test_messages_take_their_values_and_fall_back_to_english() -> None:
    assert i18n.translate("it", "join.policy", version=3) == (
        "La policy del programma (versione 3)"
    )
    assert i18n.translate("it", "no.such_key") == "no.such_key"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("it-IT,it;q=0.9,en;q=0.8", "it"),
        ("de,en;q=0.5", "en"),
        ("en;q=0.1,it;q=0.9", "it"),
        (None, "en"),
    ],
)
def test_the_browsers_language_is_used_when_the_person_chose_none(
    header: str | None, language: str
) -> None:
    assert i18n.from_accept_language(header) == language


def test_a_form_needs_the_sessions_token_and_no_foreign_origin() -> None:
    assert csrf_ok("token", "token", OWN, OWN)
    assert csrf_ok("token", "token", None, OWN)  # some browsers send no Origin
    assert not csrf_ok("token", "other", OWN, OWN)
    assert not csrf_ok("token", None, OWN, OWN)
    assert not csrf_ok("token", "token", "https://evil.example", OWN)


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/feed", "/feed"),
        ("/shares/abc?x=1", "/shares/abc?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_a_path_of_the_hub(asked: str | None, went: str) -> None:
    assert safe_return_path(asked) == went


def test_an_items_form_becomes_the_apis_item_and_back() -> None:
    form = {
        "title": "Plant",
        "url": "https://acme.example/p",
        "commentary_linkedin": "Proud ",
        "commentary_x": "",
        "commentary_facebook": "Look",
        "tags": "news, , plant",
        "groups": "sales",
        "publish_at": "2026-12-01T08:30",
        "priority": "5",
    }
    body, sent = item_body(form)
    assert sent == ["linkedin", "facebook"]
    assert body["commentaries"] == [
        {"network": "linkedin", "text": "Proud"},
        {"network": "facebook", "text": "Look"},
    ]
    assert (body["tags"], body["audience"], body["priority"]) == (
        ["news", "plant"],
        {"groups": ["sales"]},
        5,
    )
    assert (body["publish_at"], body["expires_at"]) == ("2026-12-01T08:30:00Z", None)
    again = form_of({**body, "publish_at": "2026-12-01T08:30:00Z"})
    assert (again["commentary_facebook"], again["tags"], again["publish_at"]) == (
        "Look",
        "news, plant",
        "2026-12-01T08:30",
    )


def test_violations_go_beside_the_fields_they_concern() -> None:
    problem = ApiProblem(
        422,
        "Validation failed",
        "2 compliance violation(s)",
        [
            {"field": "commentaries[1].text", "message": "banned_term: contains 'guaranteed'"},
            {"field": "body.title", "message": "required"},
            {"field": "media_refs", "message": "too many"},
        ],
    )
    found = violations_by_field(problem, ["linkedin", "x"])
    assert found == {
        "commentary_x": ["banned_term: contains 'guaranteed'"],
        "title": ["required"],
        "_": ["too many"],
    }


def test_every_template_compiles() -> None:
    from jinja2 import Environment, FileSystemLoader

    folder = resources.files("chorus.hub.web").joinpath("templates")
    env = Environment(loader=FileSystemLoader(str(folder)), autoescape=True)
    for name in templates():
        env.get_template(name)  # a syntax error would be a 500 on that page


def test_only_an_access_that_cannot_renew_itself_asks_to_reconnect() -> None:
    linkedin = {"network": "linkedin", "health": "expiring", "refreshable": False}
    x = {"network": "x", "health": "expiring", "refreshable": True}
    revoked = {"network": "x", "health": "revoked", "refreshable": True}
    assert [needs_reconnect(a) for a in (linkedin, x, revoked)] == [True, False, True]
    assert shown(x)["health"] == "active" and not shown(x)["reconnect"]
    assert shown(linkedin)["health"] == "expiring" and shown(linkedin)["reconnect"]
