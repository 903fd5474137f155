"""The gRPC server every service starts from: ProblemError → rich status,
a server span continuing the caller's trace, metrics per method, the standard
health service fed by real readiness, and server reflection."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeAlias

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from chorus.kit.auth import Principal, TokenVerifier
from chorus.kit.errors import ErrorCode, ProblemError, Violation, invalid
from chorus.kit.health import Health
from chorus.kit.metrics import Metrics
from chorus.kit.validation import text_problem

log = logging.getLogger(__name__)

# The servicer context as handlers annotate it (grpc ships no type stubs).
GrpcContext: TypeAlias = grpc.aio.ServicerContext

# (servicer, add_to_server function, full service name)
Registration = tuple[Any, Callable[[Any, grpc.aio.Server], None], str]


class _Interceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or (handler.unary_unary is None and handler.unary_stream is None):
            return handler
        method: str = details.method
        metrics = self._metrics
        # Decoded here rather than by grpc, which answers a request it cannot
        # decode (e.g. a string field that is not UTF-8) with INTERNAL.
        decode = handler.request_deserializer

        @contextlib.asynccontextmanager
        async def observed(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                yield
            except Exception as exc:
                code = _status_of(exc, context)
                await _abort(exc, context, method)
            finally:
                metrics.grpc_requests.labels(method, code.name).inc()
                metrics.grpc_latency.labels(method).observe(time.perf_counter() - started)

        if handler.unary_stream is not None:
            stream = handler.unary_stream
            if not inspect.isasyncgenfunction(stream):
                return handler  # a handler that writes to its context (health's Watch)

            async def streamed(
                payload: bytes, context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                async with observed(context):
                    async for message in stream(decoded(decode, payload), context):
                        yield message

            return grpc.unary_stream_rpc_method_handler(
                streamed, response_serializer=handler.response_serializer
            )
        unary = handler.unary_unary

        async def answered(payload: bytes, context: grpc.aio.ServicerContext) -> Any:
            async with observed(context):
                return await unary(decoded(decode, payload), context)

        return grpc.unary_unary_rpc_method_handler(
            answered, response_serializer=handler.response_serializer
        )


def _status_of(error: Exception, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    if isinstance(error, ProblemError):
        return error.code.grpc_status
    if context.code() not in (None, grpc.StatusCode.OK):
        return context.code()  # type: ignore[no-any-return]  # the servicer aborted
    return grpc.StatusCode.INTERNAL


async def _abort(error: Exception, context: grpc.aio.ServicerContext, method: str) -> NoReturn:
    """End the call with the rich status `error` deserves (a servicer's own
    abort passes through as it is)."""
    if isinstance(error, ProblemError):
        await context.abort_with_status(rpc_status.to_status(error.to_rpc_status()))
    elif context.code() in (None, grpc.StatusCode.OK):
        log.exception("unhandled gRPC error", extra={"method": method}, exc_info=error)
        problem = ProblemError(ErrorCode.INTERNAL, "an unexpected error occurred")
        await context.abort_with_status(rpc_status.to_status(problem.to_rpc_status()))
    raise error


def decoded(decode: Callable[[bytes], Any] | None, payload: bytes) -> Any:
    """The request message, refused with INVALID_ARGUMENT when it does not
    decode or holds a string that is not text (the REST edge's rule)."""
    if decode is None:
        return payload
    try:
        message = decode(payload)
    except DecodeError as exc:
        raise ProblemError(
            ErrorCode.INVALID_REQUEST, f"the request does not decode: {exc}"
        ) from None
    violations = message_text_violations(message)
    if violations:
        raise invalid(violations)
    return message


def message_text_violations(message: Message, prefix: str = "") -> list[Violation]:
    """Every string of `message`, map keys included, that is not text."""
    found: list[Violation] = []

    def check(where: str, value: Any) -> None:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                found.append(Violation(where, problem))
        elif isinstance(value, Message):
            found.extend(message_text_violations(value, f"{where}."))

    for field, value in message.ListFields():
        where = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                check(where, key)  # a bad key is named by its map
                check(f"{where}.{key}", item)
        elif field.is_repeated:
            for index, item in enumerate(value):
                check(f"{where}.{index}", item)
        else:
            check(where, value)
    return found


async def principal_from(context: grpc.aio.ServicerContext, verifier: TokenVerifier) -> Principal:
    metadata = dict(context.invocation_metadata() or ())
    value = metadata.get("authorization")
    return await verifier.authenticate(value if isinstance(value, str) else None)


class GrpcServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        metrics: Metrics,
        health: Health,
        registrations: Sequence[Registration] = (),
    ) -> None:
        # OpenTelemetry's interceptor first: the server span (semantic
        # conventions, the caller's context from metadata) covers ours.
        traced = aio_server_interceptor()  # type: ignore[no-untyped-call]
        self._server = grpc.aio.server(interceptors=[traced, _Interceptor(metrics)])
        self._health = health
        self._health_servicer = health_aio.HealthServicer()
        self._service_names = [name for _, _, name in registrations]
        for servicer, add, _ in registrations:
            add(servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health_servicer, self._server)
        reflection.enable_server_reflection(
            [
                *self._service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self._server,
        )
        # Bound in start(), not here: building a service (for its OpenAPI, in a
        # test) must not take its port.
        self._address = f"{host}:{port}"
        self.port: int | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.port = self._server.add_insecure_port(self._address)
        await self._server.start()
        self._watch = asyncio.create_task(self._publish_health(), name="grpc:health")

    async def stop(self, grace: float) -> None:
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._health_servicer.enter_graceful_shutdown()
        await self._server.stop(grace)

    async def _publish_health(self) -> None:
        """Keep the standard health service in step with real readiness."""
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        while True:
            report = await self._health.readiness()
            status = serving if report.ready else not_serving
            for name in ["", *self._service_names]:
                await self._health_servicer.set(name, status)
            await asyncio.sleep(2)
