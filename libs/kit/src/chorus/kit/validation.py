"""One set of validation rules for REST and gRPC: gRPC requests are validated
by the same pydantic models the REST API declares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chorus.kit.errors import ErrorCode, ProblemError, Violation

M = TypeVar("M", bound=BaseModel)


def violations_from(errors: Iterable[Mapping[str, Any]]) -> list[Violation]:
    return [
        Violation(".".join(str(part) for part in error["loc"]), str(error["msg"]))
        for error in errors
    ]


def text_violations(value: Any, location: str = "body") -> list[Violation]:
    """Strings a database or an event cannot hold faithfully: a lone surrogate
    (no UTF-8 form: JSON allows "\\ud800", BSON and protobuf do not) anywhere,
    and a NUL in a field name (BSON names are NUL-terminated). A NUL inside a
    string value is fine: it is stored and returned as sent."""
    found: list[Violation] = []

    def unencodable(text: str) -> bool:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    def walk(node: Any, where: str) -> None:
        if isinstance(node, str):
            if unencodable(node):
                found.append(Violation(where, "contains a lone surrogate, which is not text"))
        elif isinstance(node, Mapping):
            for key, child in node.items():
                name = str(key)
                if "\x00" in name or unencodable(name):
                    found.append(Violation(where, "a field name contains NUL or a lone surrogate"))
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
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED, f"{len(violations)} problem(s) in the request", violations
        )


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    require_text(data, "request")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        violations = violations_from(exc.errors())
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED, f"{len(violations)} problem(s) in the request", violations
        ) from exc
