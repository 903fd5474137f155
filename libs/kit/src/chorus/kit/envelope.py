"""The event envelope: CloudEvents Kafka binding, binary mode, protobuf value.

Headers carry the CloudEvents attributes (`ce_id`, `ce_type`, `ce_source`,
`ce_time`, `ce_specversion`, `content-type`) and W3C trace context
(`traceparent`, `tracestate`); the value is the bare protobuf message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from chorus.kit.topics import Topic

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"
REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion")

Headers = list[tuple[str, bytes]]


class UndecodableEvent(ValueError):
    """A record that is not a valid Chorus event for its topic (a poison message)."""


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    key: str
    message: Message
    headers: Mapping[str, str] = field(default_factory=dict)


def new_event_id() -> str:
    return str(uuid.uuid4())


def encode(
    topic: Topic,
    key: str,
    message: Message,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> OutgoingRecord:
    if not isinstance(message, topic.message_type):
        raise TypeError(
            f"topic {topic.name} carries {topic.event_type}, not {type(message).__name__}"
        )
    if not key:
        raise ValueError(f"events on {topic.name} need a key ({topic.key})")
    when = (time or datetime.now(UTC)).astimezone(UTC)
    headers = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event_id or new_event_id(),
        "ce_type": topic.event_type,
        "ce_source": source,
        "ce_time": when.isoformat().replace("+00:00", "Z"),
        "content-type": CONTENT_TYPE,
        **(extra_headers or {}),
    }
    return OutgoingRecord(
        topic=topic.name,
        key=key.encode(),
        value=message.SerializeToString(),
        headers=[(name, value.encode()) for name, value in headers.items()],
    )


def header_map(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers or ():
        try:
            result[name] = value.decode() if value is not None else ""
        except UnicodeDecodeError as exc:
            raise UndecodableEvent(f"header {name!r} is not UTF-8") from exc
    return result


def decode(
    topic: Topic,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | None,
) -> Envelope:
    """Decode one record of `topic`, or raise UndecodableEvent saying why."""
    attrs = header_map(headers)
    missing = [name for name in REQUIRED_HEADERS if not attrs.get(name)]
    if missing:
        raise UndecodableEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise UndecodableEvent(f"unsupported ce_specversion {attrs['ce_specversion']!r}")
    if attrs["ce_type"] != topic.event_type:
        raise UndecodableEvent(
            f"ce_type {attrs['ce_type']!r} does not belong on {topic.name} ({topic.event_type})"
        )
    if attrs.get("content-type", CONTENT_TYPE) != CONTENT_TYPE:
        raise UndecodableEvent(f"unsupported content-type {attrs['content-type']!r}")
    if value is None:
        raise UndecodableEvent("record has no value")
    try:
        time = datetime.fromisoformat(attrs["ce_time"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise UndecodableEvent(f"ce_time {attrs['ce_time']!r} is not RFC 3339") from exc
    message = topic.message_type()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise UndecodableEvent(f"value is not a valid {topic.event_type}: {exc}") from exc
    return Envelope(
        id=attrs["ce_id"],
        type=attrs["ce_type"],
        source=attrs["ce_source"],
        time=time,
        key=(key or b"").decode(errors="replace"),
        message=message,
        headers=attrs,
    )


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp of the same instant (naive datetimes are UTC)."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
