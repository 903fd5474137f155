"""Errors with stable codes: RFC 9457 problem+json for REST, rich status for gRPC."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

PROBLEM_CONTENT_TYPE = "application/problem+json"
ERROR_DOMAIN = "chorus"


class ErrorCode(Enum):
    """Stable error codes: (HTTP status, gRPC status, title)."""

    INVALID_REQUEST = (400, grpc.StatusCode.INVALID_ARGUMENT, "The request is malformed")
    UNAUTHENTICATED = (401, grpc.StatusCode.UNAUTHENTICATED, "Authentication required")
    TOKEN_EXPIRED = (401, grpc.StatusCode.UNAUTHENTICATED, "The token has expired")
    INVALID_TOKEN = (401, grpc.StatusCode.UNAUTHENTICATED, "The token is not valid")
    FORBIDDEN = (403, grpc.StatusCode.PERMISSION_DENIED, "Not allowed")
    NOT_FOUND = (404, grpc.StatusCode.NOT_FOUND, "Not found")
    CONFLICT = (409, grpc.StatusCode.ALREADY_EXISTS, "Conflict")
    INVALID_STATE = (409, grpc.StatusCode.FAILED_PRECONDITION, "Not allowed in the current state")
    PRECONDITION_FAILED = (412, grpc.StatusCode.FAILED_PRECONDITION, "The resource has changed")
    PRECONDITION_REQUIRED = (428, grpc.StatusCode.FAILED_PRECONDITION, "Send If-Match")
    VALIDATION_FAILED = (422, grpc.StatusCode.INVALID_ARGUMENT, "The request is not valid")
    RATE_LIMITED = (429, grpc.StatusCode.RESOURCE_EXHAUSTED, "Too many requests")
    UNAVAILABLE = (503, grpc.StatusCode.UNAVAILABLE, "A dependency is unavailable")
    INTERNAL = (500, grpc.StatusCode.INTERNAL, "Internal error")

    @property
    def slug(self) -> str:
        return self.name.lower()

    @property
    def http_status(self) -> int:
        return int(self.value[0])

    @property
    def grpc_status(self) -> grpc.StatusCode:
        status: grpc.StatusCode = self.value[1]
        return status

    @property
    def title(self) -> str:
        return str(self.value[2])


@dataclass(frozen=True)
class Violation:
    field: str
    message: str


@dataclass
class ProblemError(Exception):
    """Raised anywhere in a use case; REST and gRPC entry points render it."""

    code: ErrorCode
    detail: str
    violations: list[Violation] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:chorus:problem:{self.code.slug}",
            "title": self.code.title,
            "status": self.code.http_status,
            "code": self.code.slug,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.violations:
            body["violations"] = [{"field": v.field, "message": v.message} for v in self.violations]
        body.update(self.extra)
        return body

    def to_rpc_status(self) -> status_pb2.Status:
        """google.rpc.Status with ErrorInfo (the stable code) and BadRequest
        (violations). Texts are cut to MAX_DETAIL characters: a detail may echo
        the request (an id) and gRPC refuses trailers beyond 8 KiB, which the
        client would see as RESOURCE_EXHAUSTED instead of this error."""
        info = error_details_pb2.ErrorInfo(
            reason=self.code.name,
            domain=ERROR_DOMAIN,
            metadata={k: _cut(str(v)) for k, v in self.extra.items()},
        )
        details = [_pack(info)]
        if self.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=_cut(v.field), description=_cut(v.message)
                    )
                    for v in self.violations[:MAX_VIOLATIONS]
                ]
            )
            details.append(_pack(bad_request))
        grpc_code: int = self.code.grpc_status.value[0]
        return status_pb2.Status(code=grpc_code, message=_cut(self.detail), details=details)


MAX_DETAIL = 200
MAX_VIOLATIONS = 8


def _cut(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def invalid(
    violations: list[Violation], code: ErrorCode = ErrorCode.VALIDATION_FAILED
) -> ProblemError:
    """The request refused for its `violations` (422 / INVALID_ARGUMENT)."""
    return ProblemError(code, f"{len(violations)} problem(s) in the request", violations)


def not_found(what: str) -> ProblemError:
    return ProblemError(ErrorCode.NOT_FOUND, f"{what} not found")
