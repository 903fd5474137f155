"""The event envelope: CloudEvents Kafka binding, binary mode, protobuf value.

Headers carry the CloudEvents attributes (`ce_id`, `ce_type`, `ce_source`,
`ce_time`, `ce_specversion`, `content-type`) and W3C trace context
(`traceparent`, `tracestate`); the value is the bare protobuf message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

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
    # None: the producer's partitioner picks it from the key.
    partition: int | None = None


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
    extra = [(name, value.encode()) for name, value in (extra_headers or {}).items()]
    return Encoder(source, time).encode(topic, key, message, event_id=event_id, extra=extra)


class Encoder:
    """Encodes events of one source stamped with one moment; the headers that
    are the same for every event of a topic are built once (an engine
    announcing thousands of events per batch spends its time elsewhere)."""

    def __init__(self, source: str, time: datetime | None = None) -> None:
        when = (time or datetime.now(UTC)).astimezone(UTC)
        self._source = source
        self._time = when.isoformat().replace("+00:00", "Z").encode()
        self._fixed: dict[str, Headers] = {}

    def encode(
        self,
        topic: Topic,
        key: str,
        message: Message,
        *,
        event_id: str | None = None,
        extra: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> OutgoingRecord:
        if not isinstance(message, topic.message_type):
            raise TypeError(
                f"topic {topic.name} carries {topic.event_type}, not {type(message).__name__}"
            )
        if not key:
            raise ValueError(f"events on {topic.name} need a key ({topic.key})")
        fixed = self._fixed.get(topic.name)
        if fixed is None:
            fixed = self._fixed[topic.name] = [
                ("ce_specversion", SPEC_VERSION.encode()),
                ("ce_type", topic.event_type.encode()),
                ("ce_source", self._source.encode()),
                ("ce_time", self._time),
                ("content-type", CONTENT_TYPE.encode()),
            ]
        replaced = {name for name, _ in extra}
        headers = [("ce_id", (event_id or new_event_id()).encode())]
        headers += fixed if not replaced else [h for h in fixed if h[0] not in replaced]
        headers += extra
        return OutgoingRecord(
            topic=topic.name,
            key=key.encode(),
            value=message.SerializeToString(),
            headers=headers,
            partition=partition,
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp of the same instant (naive datetimes are UTC).
    Not Timestamp.FromDatetime: that is pure Python, a few µs per event."""
    since = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def optional_timestamp(moment: datetime | None) -> Timestamp | None:
    """`timestamp(moment)`, or None (the field stays unset) for no moment."""
    return None if moment is None else timestamp(moment)


def utc_moment(stamp: Timestamp) -> datetime:
    """The Timestamp's instant as an aware UTC datetime. Not
    Timestamp.ToDatetime: that is pure Python, a few µs per event."""
    return _EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def moment_of(message: Message, name: str) -> datetime | None:
    """The instant in `message`'s Timestamp field `name`; None when it is unset."""
    return utc_moment(getattr(message, name)) if message.HasField(name) else None


M = TypeVar("M", bound=Message)


def messages(events: Sequence[Envelope], message_type: type[M]) -> list[M]:
    """The events' messages, checked to be of `message_type` (a batch handler's input)."""
    found = [event.message for event in events]
    for message in found:
        if not isinstance(message, message_type):
            raise TypeError(f"expected {message_type.__name__}, got {type(message).__name__}")
    return cast(list[M], found)
