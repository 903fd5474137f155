"""Every gRPC method of every service, from the contracts' descriptors, given
the same classes of bad input as the REST edge: no token, an empty request,
strings that are not text or far too long, numbers out of range, unknown enum
values, bytes that are not the message or not UTF-8. Never UNKNOWN or
INTERNAL; every refusal carries the rich status (ErrorInfo)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from chorus.content.main import ContentSettings
from chorus.content.main import build as build_content
from chorus.contracts.content.v1 import content_service_pb2
from chorus.contracts.distribution.v1 import distribution_service_pb2
from chorus.contracts.engagement.v1 import engagement_service_pb2
from chorus.contracts.gamification.v1 import gamification_service_pb2
from chorus.contracts.insights.v1 import insights_service_pb2
from chorus.engagement.main import EngagementSettings
from chorus.engagement.main import build as build_engagement
from chorus.gamification.main import GamificationSettings
from chorus.gamification.main import build as build_gamification
from chorus.insights.main import InsightsSettings
from chorus.insights.main import build as build_insights
from chorus.kit.runtime import ServiceRuntime
from chorus_testing import bearer, drop_database, in_process, running, unique
from distribution_support import distribution_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

ALL_ROLES = ("admin", "curator", "approver", "advocate", "service")
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
T = FieldDescriptor
INT_LIMITS = {
    T.TYPE_INT32: (-(2**31), 2**31 - 1),
    T.TYPE_SINT32: (-(2**31), 2**31 - 1),
    T.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    T.TYPE_INT64: (-(2**63), 2**63 - 1),
    T.TYPE_SINT64: (-(2**63), 2**63 - 1),
    T.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    T.TYPE_UINT32: (0, 2**32 - 1),
    T.TYPE_FIXED32: (0, 2**32 - 1),
    T.TYPE_UINT64: (0, 2**64 - 1),
    T.TYPE_FIXED64: (0, 2**64 - 1),
}


def filled(
    descriptor: Descriptor, text: Callable[[], str], number: Callable[[FieldDescriptor], Any]
) -> Message:
    """A request with every field, nested ones included, set: strings to
    `text()`, numbers and enums to `number(field)`."""
    message = message_factory.GetMessageClass(descriptor)()

    def fill(target: Message, depth: int) -> None:
        for field in target.DESCRIPTOR.fields:
            if field.message_type is not None:
                if field.message_type.GetOptions().map_entry:
                    fill_map(target, field)
                elif depth < 3 and not field.is_repeated:
                    fill(getattr(target, field.name), depth + 1)
                elif depth < 3:
                    fill(getattr(target, field.name).add(), depth + 1)
                continue
            value = scalar(field)
            if value is None:
                continue
            if field.is_repeated:
                getattr(target, field.name).append(value)
            else:
                setattr(target, field.name, value)

    def fill_map(target: Message, field: FieldDescriptor) -> None:
        key_field, value_field = field.message_type.fields
        key, value = scalar(key_field), scalar(value_field)
        if key is not None and value is not None and value_field.message_type is None:
            getattr(target, field.name)[key] = value

    def scalar(field: FieldDescriptor) -> Any:
        if field.type == T.TYPE_STRING:
            return text()
        if field.type in INT_LIMITS or field.type == T.TYPE_ENUM:
            return number(field)
        if field.type in (T.TYPE_DOUBLE, T.TYPE_FLOAT):
            return float("nan")
        if field.type == T.TYPE_BOOL:
            return True
        return None

    fill(message, 0)
    return message


def huge(field: FieldDescriptor) -> int:
    return 999_999 if field.type == T.TYPE_ENUM else INT_LIMITS[field.type][1]


def lowest(field: FieldDescriptor) -> int:
    return -1 if field.type == T.TYPE_ENUM else INT_LIMITS[field.type][0]


def first_string_field(descriptor: Descriptor) -> FieldDescriptor | None:
    return next((f for f in descriptor.fields if f.type == T.TYPE_STRING), None)


def not_utf8(descriptor: Descriptor) -> bytes | None:
    """The request's first string field, holding bytes that are not UTF-8."""
    field = first_string_field(descriptor)
    if field is None:
        return None
    return bytes([(field.number << 3) | 2, 2]) + b"\xff\xfe"


def cases(descriptor: Descriptor) -> Iterator[tuple[str, bytes, bool]]:
    """(name, serialized request, must be INVALID_ARGUMENT)."""
    has_text = first_string_field(descriptor) is not None
    yield "empty", b"", False
    yield (
        "control characters",
        filled(descriptor, lambda: "a\x00b\x1b", huge).SerializeToString(),
        has_text,
    )
    yield "too long", filled(descriptor, lambda: "x" * 100_000, huge).SerializeToString(), False
    yield "lowest numbers", filled(descriptor, lambda: "", lowest).SerializeToString(), False
    yield "not the message", b"\xff\xff\xff\xff", True
    raw = not_utf8(descriptor)
    if raw is not None:
        yield "not UTF-8", raw, True


async def call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    path: str,
    payload: bytes,
    metadata: list[tuple[str, str]],
) -> tuple[grpc.StatusCode, grpc.aio.AioRpcError | None]:
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=None, response_deserializer=None)
            async for _ in stream(payload, metadata=metadata, timeout=20):
                pass
        else:
            unary = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
            await unary(payload, metadata=metadata, timeout=20)
    except grpc.aio.AioRpcError as error:
        return error.code(), error
    return grpc.StatusCode.OK, None


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return None


async def probe(port: int, service: ServiceDescriptor) -> list[str]:
    """Every bad case on every method; what went wrong, if anything."""
    problems: list[str] = []
    token = bearer(unique("grpc"), "prober", *ALL_ROLES)["Authorization"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            anonymous, _ = await call(channel, method, path, b"", [])
            if anonymous != grpc.StatusCode.UNAUTHENTICATED:
                problems.append(f"{method.name} without a token: {anonymous.name}")
            for name, payload, invalid in cases(method.input_type):
                code, error = await call(channel, method, path, payload, [("authorization", token)])
                where = f"{method.name} {name}: {code.name}"
                if code in NEVER:
                    problems.append(f"{where} {error.details() if error else ''}")
                elif invalid and code != grpc.StatusCode.INVALID_ARGUMENT:
                    problems.append(f"{where}, expected INVALID_ARGUMENT")
                elif error is not None and error_info(error) is None:
                    problems.append(f"{where} without ErrorInfo")
    return problems


@contextlib.asynccontextmanager
async def grpc_port(runtime: ServiceRuntime) -> AsyncIterator[int]:
    async with running(runtime):
        yield runtime.grpc.port


def service_of(module: Any, name: str) -> ServiceDescriptor:
    descriptor: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]
    return descriptor


async def test_content(kafka_bootstrap: str, mongo_url: str) -> None:
    settings = ContentSettings(**in_process(kafka_bootstrap, mongo_url, "grpc_content"))
    async with grpc_port(build_content(settings)) as port:
        problems = await probe(port, service_of(content_service_pb2, "ContentService"))
        assert problems == [], "\n".join(problems)
    await drop_database(mongo_url, settings.database_name)


async def test_engagement(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = EngagementSettings(
        **in_process(kafka_bootstrap, mongo_url, "grpc_engagement"),
        journal_dir=tmp_path,
        instance_id=unique("grpc"),
    )
    async with grpc_port(build_engagement(settings)) as port:
        problems = await probe(port, service_of(engagement_service_pb2, "EngagementService"))
        assert problems == [], "\n".join(problems)
    await drop_database(mongo_url, settings.database_name)


async def test_gamification(kafka_bootstrap: str, mongo_url: str) -> None:
    settings = GamificationSettings(
        **in_process(kafka_bootstrap, mongo_url, "grpc_gamification"), role="api"
    )
    async with grpc_port(build_gamification(settings)) as port:
        service = service_of(gamification_service_pb2, "GamificationService")
        problems = await probe(port, service)
        assert problems == [], "\n".join(problems)
    await drop_database(mongo_url, settings.database_name)


async def test_insights(kafka_bootstrap: str, mongo_url: str) -> None:
    settings = InsightsSettings(**in_process(kafka_bootstrap, mongo_url, "grpc_insights"))
    async with grpc_port(build_insights(settings)) as port:
        problems = await probe(port, service_of(insights_service_pb2, "InsightsService"))
        assert problems == [], "\n".join(problems)
    await drop_database(mongo_url, settings.database_name)


async def test_distribution(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    async with distribution_stack(kafka_bootstrap, mongo_url, simulator_url, tmp_path) as stack:
        service = service_of(distribution_service_pb2, "DistributionService")
        problems = await probe(stack.grpc_port, service)
        assert problems == [], "\n".join(problems)
