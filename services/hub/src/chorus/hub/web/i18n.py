"""English and Italian: one JSON catalogue per language, keys shared (a test
checks), chosen per person (their provider profile's locale, or the choice
they make in the hub) and otherwise by the browser's Accept-Language."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES = ("en", "it")
DEFAULT = "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    text = resources.files("chorus.hub.web").joinpath(f"locales/{language}.json").read_text()
    messages: dict[str, str] = json.loads(text)
    return messages


def supported(language: str | None) -> str | None:
    code = (language or "").strip().lower()[:2]
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str:
    """The first supported language the browser asks for, by its q order."""
    choices = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        choices.append((-weight, position, tag))
    for _, _, tag in sorted(choices):
        found = supported(tag)
        if found:
            return found
    return DEFAULT


def translate(language: str, key: str, **values: object) -> str:
    """The message in `language`, else English, else the key itself (so that a
    missing message shows, rather than breaking the page)."""
    text = catalogue(language).get(key) or catalogue(DEFAULT).get(key) or key
    return text.format(**values) if values else text
