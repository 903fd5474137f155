"""The FastAPI application every service starts from: problem+json errors,
metrics and a server span per request, /metrics, /livez and /readyz."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chorus.kit.auth import Principal, TokenVerifier
from chorus.kit.errors import PROBLEM_CONTENT_TYPE, ErrorCode, ProblemError, Violation, invalid
from chorus.kit.health import Health
from chorus.kit.metrics import PROMETHEUS_CONTENT_TYPE, Metrics
from chorus.kit.tracing import current_trace_ids
from chorus.kit.validation import text_problem, text_violations, violations_from

log = logging.getLogger(__name__)

_STATUS_CODES = {code.http_status: code for code in ErrorCode}


def problem_response(error: ProblemError, request: Request) -> JSONResponse:
    body = error.to_problem(instance=request.url.path)
    ids = current_trace_ids()
    if ids:
        body["trace_id"] = ids[0]
    headers = None
    if "retry_after_seconds" in error.extra:
        headers = {"Retry-After": str(error.extra["retry_after_seconds"])}
    return JSONResponse(
        body, status_code=error.code.http_status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, request)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    violations = violations_from(exc.errors())
    code = ErrorCode.VALIDATION_FAILED
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        code = ErrorCode.INVALID_REQUEST
    return problem_response(invalid(violations, code), request)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    detail = exc.detail if isinstance(exc.detail, str) else code.title
    return problem_response(ProblemError(code, detail), request)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem_response(
        ProblemError(ErrorCode.INTERNAL, "an unexpected error occurred"), request
    )


# Probes and scrapes: a span each would only be noise (regexes, comma-separated).
UNTRACED_ROUTES = "/livez$,/readyz$,/metrics$"


class ObservabilityMiddleware:
    """Pure ASGI: request metrics labelled by the route template (bounded),
    never the raw path. The span is OpenTelemetry's FastAPI instrumentation's."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"]
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_requests.labels(template, method, f"{status // 100}xx").inc()
            self.metrics.http_latency.labels(template, method).observe(
                time.perf_counter() - started
            )


# What may hide a control character or a lone surrogate in a JSON body: its
# escapes (\\u0000-\\u001f, \\u007f-\\u009f, \\ud800-\\udfff, \\b, \\f) or a raw
# DEL or C1 character. Only bodies holding one are parsed a second time.
_SUSPECT_JSON = re.compile(
    rb"\\u(?:00[0189][0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2})|\\[bf]|\x7f|\xc2[\x80-\x9f]"
)


def _component_problem(raw: bytes, *, plus_is_space: bool = False) -> str | None:
    """Why a raw path or query string does not decode to text, or None."""
    if b"%" not in raw and raw.isascii() and b"\x7f" not in raw:
        return None
    decoded = urllib.parse.unquote_to_bytes(raw.replace(b"+", b" ") if plus_is_space else raw)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return text_problem(text)


class TextGuardMiddleware:
    """Pure ASGI: a path, a query or a JSON body holding what is not text (a
    control character, a lone surrogate, bytes that are not UTF-8) is refused
    with 422 problem+json before any handler runs, on every route and method:
    neither MongoDB nor a protobuf event can hold all of it, and no id, name or
    title needs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        violations = [
            Violation(where, problem)
            for where, problem in (
                ("path", _component_problem(scope.get("raw_path") or scope["path"].encode())),
                ("query", _component_problem(scope.get("query_string", b""), plus_is_space=True)),
            )
            if problem
        ]
        if violations:
            await self._refuse(violations, scope, receive, send)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # FastAPI reads a body without a content type as JSON too.
        content_type = dict(scope.get("headers", ())).get(b"content-type", b"json").lower()
        if b"json" not in content_type:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _SUSPECT_JSON.search(body):
            # Malformed JSON is left to the route's own parsing (400).
            with contextlib.suppress(ValueError):
                violations = text_violations(json.loads(body))
        if violations:
            await self._refuse(violations, scope, receive, send)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    @staticmethod
    async def _refuse(
        violations: list[Violation], scope: Scope, receive: Receive, send: Send
    ) -> None:
        await problem_response(invalid(violations), Request(scope))(scope, receive, send)


def build_http_app(
    *,
    title: str,
    description: str,
    metrics: Metrics,
    health: Health,
    verifier: TokenVerifier,
    routers: Sequence[APIRouter] = (),
    version: str = "0.1.0",
) -> FastAPI:
    app = FastAPI(title=title, description=description, version=version)
    app.state.verifier = verifier
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(TextGuardMiddleware)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    # The server span (semantic conventions, W3C context from the request),
    # outside every middleware and handler so that all of them log under it.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED_ROUTES, exclude_spans=["receive", "send"]
    )

    unready: dict[int | str, dict[str, Any]] = {
        503: {"description": "Not alive or not ready (the body says which check)"}
    }

    @app.get(
        "/livez",
        tags=["operations"],
        summary="Liveness: the event loop is not stalled",
        responses=unready,
    )
    async def livez() -> Response:
        alive = health.alive()
        return JSONResponse({"status": "alive" if alive else "stalled"}, 200 if alive else 503)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: Kafka and MongoDB answer",
        responses=unready,
    )
    async def readyz() -> Response:
        report = await health.readiness()
        return JSONResponse(report.as_json(), 200 if report.ready else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    for router in routers:
        app.include_router(router)
    return app


async def current_principal(request: Request) -> Principal:
    # async although it never awaits: FastAPI runs a plain `def` dependency in a
    # worker thread, a thread hop per request (13% of the feed's CPU, profiled).
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.authenticate(request.headers.get("authorization"))


Authenticated = Annotated[Principal, Depends(current_principal)]


def _problems(*documented: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"description": description, "content": {PROBLEM_CONTENT_TYPE: {}}}
        for status, description in documented
    }


PROBLEM_RESPONSES = _problems(
    (400, "Malformed request"),
    (401, "Missing, invalid or expired token"),
    (403, "Missing role or wrong tenant"),
    (404, "Not found"),
    (409, "Not allowed in the current state, or a conflicting request (the code says which)"),
    (422, "Validation failed"),
    (503, "A dependency (Kafka, MongoDB, a platform) is unavailable; retry later"),
)


def links_to(
    status: int, targets: Mapping[str, Mapping[str, str]]
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI links from this operation's `status` response to the operations
    that take what it returns: operation id -> {parameter: runtime expression,
    e.g. "$response.body#/id"}. How a client, or a stateful fuzzer, chains
    create, read and act."""
    links = {
        operation_id: {"operationId": operation_id, "parameters": dict(parameters)}
        for operation_id, parameters in targets.items()
    }
    return {status: {"links": links}}


# Routes anyone may call: limited per client address (chorus.kit.ratelimit).
PUBLIC_PROBLEM_RESPONSES = _problems((429, "Too many requests from this address; see Retry-After"))
