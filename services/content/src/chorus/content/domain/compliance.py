"""Compliance checks run on submit and approve. Every violation is reported at
once, so a curator fixes everything in one round."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from chorus.content.domain.model import Item, Network, Program
from chorus.kit.networks import MAX_LENGTH, commentary_length


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str


def valid_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def domain_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == d.lower() or host.endswith("." + d.lower()) for d in allowed)


def _banned_in(text: str, terms: tuple[str, ...]) -> list[str]:
    found = []
    for term in terms:
        if term and re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE):
            found.append(term)
    return found


def _texts(item: Item) -> list[tuple[str, str]]:
    texts = [("title", item.title), ("summary", item.summary)]
    texts += [(f"commentaries[{i}].text", c.text) for i, c in enumerate(item.commentaries)]
    return texts


def check_item(item: Item, program: Program) -> list[Violation]:
    violations: list[Violation] = []
    if not valid_url(item.url):
        violations.append(Violation("url", "invalid_url", f"{item.url!r} is not an http(s) URL"))
    elif not domain_allowed(item.url, program.allowed_domains):
        violations.append(
            Violation(
                "url",
                "domain_not_allowed",
                f"links must point to {', '.join(program.allowed_domains)}",
            )
        )
    for field_name, text in _texts(item):
        for term in _banned_in(text, program.banned_terms):
            violations.append(
                Violation(field_name, "banned_term", f"contains banned term {term!r}")
            )
    for index, commentary in enumerate(item.commentaries):
        field_name = f"commentaries[{index}].text"
        if (
            not program.disclosure_auto_append
            and program.disclosure
            and (program.disclosure.lower() not in commentary.text.lower())
        ):
            violations.append(
                Violation(
                    field_name,
                    "disclosure_missing",
                    f"must contain the disclosure {program.disclosure!r}",
                )
            )
        length = commentary_length(commentary.network, with_disclosure(commentary.text, program))
        limit = MAX_LENGTH[commentary.network]
        if length > limit:
            violations.append(
                Violation(
                    field_name,
                    "too_long",
                    f"{length} characters for {commentary.network.value} (limit {limit}"
                    + (", links count as 23)" if commentary.network is Network.X else ")"),
                )
            )
    if item.publish_at and item.expires_at and item.expires_at <= item.publish_at:
        violations.append(Violation("expires_at", "invalid_window", "must be after publish_at"))
    return violations


def with_disclosure(text: str, program: Program) -> str:
    """The commentary as it will be posted: the disclosure appended when the
    program appends it automatically and it is not there yet."""
    if not program.disclosure_auto_append or not program.disclosure:
        return text
    if program.disclosure.lower() in text.lower():
        return text
    return f"{text} {program.disclosure}".strip()
