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


def validated(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        violations = violations_from(exc.errors())
        raise ProblemError(
            ErrorCode.VALIDATION_FAILED, f"{len(violations)} problem(s) in the request", violations
        ) from exc
