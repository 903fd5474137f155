"""One set of validation rules for REST and gRPC: gRPC requests are validated
by the same pydantic models the REST API declares."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError

from chorus.kit.envelope import moment_of
from chorus.kit.errors import Violation, invalid

M = TypeVar("M", bound=BaseModel)


def violations_from(errors: Iterable[Mapping[str, Any]]) -> list[Violation]:
    return [
        Violation(".".join(str(part) for part in error["loc"]), str(error["msg"]))
        for error in errors
    ]


# Control characters other than tab, newline and carriage return (C0, DEL, C1):
# never part of a title, a name or an id, and a NUL cannot be a BSON field name.
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_problem(text: str) -> str | None:
    """Why `text` is not text a client may store, or None: a control character,
    or a lone surrogate (no UTF-8 form: JSON allows "\\ud800", BSON and
    protobuf do not)."""
    if CONTROL_CHARACTER.search(text):
        return "contains a control character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not text"
    return None


def text_violations(value: Any, location: str = "body") -> list[Violation]:
    """Every string of a decoded JSON value, field names included, that
    `text_problem` refuses."""
    found: list[Violation] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                found.append(Violation(where, problem))
        elif isinstance(node, Mapping):
            for key, child in node.items():
                name = str(key)
                problem = text_problem(name)
                if problem:
                    found.append(Violation(where, f"a field name {problem}"))
                    continue
                walk(child, f"{where}.{name}")
        elif isinstance(node, list | tuple):
            for index, child in enumerate(node):
                walk(child, f"{where}.{index}")

    walk(value, location)
    return found


def require_text(value: Any, location: str = "body") -> None:
    """Refuse (422) what `text_violations` finds."""
    violations = text_violations(value, location)
    if violations:
        raise invalid(violations)


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    require_text(data, "request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(violations_from(exc.errors())) from exc


def requested_moment(message: Message, name: str, where: str = "") -> datetime | None:
    """The instant a gRPC client sent in the Timestamp field `name`: None when
    absent, refused (INVALID_ARGUMENT) when no datetime holds it (years 1-9999)."""
    try:
        return moment_of(message, name)
    except (OverflowError, ValueError):
        raise invalid(
            [Violation(where or name, "is not a time between the years 1 and 9999")]
        ) from None
