from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.content.v1.events_pb2 import ContentApproved, ContentRetracted
from chorus.kit.consumer import PermanentError, handles
from chorus.kit.envelope import (
    CONTENT_TYPE,
    Encoder,
    Envelope,
    UndecodableEvent,
    decode,
    encode,
    timestamp,
)
from chorus.kit.topics import CONTENT_APPROVED, CONTENT_RETRACTED


def approved() -> ContentApproved:
    return ContentApproved(tenant="acme", content_id="c1", title="Hello", url="https://a.example/x")


def test_round_trip_keeps_message_and_cloudevents_attributes() -> None:
    when = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    record = encode(
        CONTENT_APPROVED,
        "acme:c1",
        approved(),
        source="/chorus/content",
        event_id="e-1",
        time=when,
        extra_headers={"traceparent": "00-abc-def-01"},
    )
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"chorus.contracts.content.v1.ContentApproved"
    assert headers["content-type"] == CONTENT_TYPE.encode()
    assert headers["ce_time"] == b"2026-11-27T08:00:00Z"

    envelope = decode(CONTENT_APPROVED, record.key, record.value, record.headers)
    assert envelope.id == "e-1"
    assert envelope.key == "acme:c1"
    assert envelope.source == "/chorus/content"
    assert envelope.time == when
    assert envelope.message == approved()
    assert envelope.headers["traceparent"] == "00-abc-def-01"


def test_each_event_gets_a_fresh_id() -> None:
    first = dict(encode(CONTENT_APPROVED, "k", approved(), source="s").headers)["ce_id"]
    second = dict(encode(CONTENT_APPROVED, "k", approved(), source="s").headers)["ce_id"]
    assert first != second


def test_encode_refuses_the_wrong_message_type_and_an_empty_key() -> None:
    with pytest.raises(TypeError):
        encode(CONTENT_RETRACTED, "k", approved(), source="s")
    with pytest.raises(ValueError):
        encode(CONTENT_APPROVED, "", approved(), source="s")


def valid_record() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    record = encode(CONTENT_APPROVED, "acme:c1", approved(), source="s")
    return record.key, record.value, record.headers


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: [x for x in h if x[0] != "ce_id"], "missing CloudEvents headers: ce_id"),
        (lambda h: [(k, b"0.3" if k == "ce_specversion" else v) for k, v in h], "ce_specversion"),
        (
            lambda h: [(k, b"application/json" if k == "content-type" else v) for k, v in h],
            "content-type",
        ),
        (lambda h: [(k, b"yesterday" if k == "ce_time" else v) for k, v in h], "RFC 3339"),
        (lambda h: [(k, b"\xff" if k == "ce_source" else v) for k, v in h], "not UTF-8"),
    ],
)
def test_bad_headers_are_undecodable_with_a_reason(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    key, value, headers = valid_record()
    with pytest.raises(UndecodableEvent, match=reason):
        decode(CONTENT_APPROVED, key, value, mutate(headers))


def test_an_event_on_the_wrong_topic_is_undecodable() -> None:
    key, value, headers = valid_record()
    with pytest.raises(UndecodableEvent, match=r"does not belong on content\.retracted"):
        decode(CONTENT_RETRACTED, key, value, headers)


def test_garbage_value_is_undecodable() -> None:
    key, _, headers = valid_record()
    with pytest.raises(UndecodableEvent, match="not a valid"):
        decode(CONTENT_APPROVED, key, b"\xff\xff\xff\xff", headers)
    with pytest.raises(UndecodableEvent, match="no value"):
        decode(CONTENT_APPROVED, key, None, headers)


def test_retracted_round_trip() -> None:
    message = ContentRetracted(tenant="acme", content_id="c1", reason="outdated")
    record = encode(CONTENT_RETRACTED, "acme:c1", message, source="s")
    assert decode(CONTENT_RETRACTED, record.key, record.value, record.headers).message == message


def test_an_encoder_stamps_one_moment_and_lets_extra_headers_win() -> None:
    moment = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    encoder = Encoder("/svc", moment)
    message = ContentApproved(tenant="t", content_id="c")
    first = encoder.encode(CONTENT_APPROVED, "t:c", message, event_id="e-1")
    second = encoder.encode(
        CONTENT_APPROVED, "t:c", message, extra=[("ce_source", b"/other"), ("traceparent", b"x")]
    )
    plain = encode(CONTENT_APPROVED, "t:c", message, source="/svc", event_id="e-1", time=moment)
    assert first == plain
    decoded = decode(CONTENT_APPROVED, second.key, second.value, second.headers)
    assert (decoded.source, decoded.time, decoded.headers["traceparent"]) == ("/other", moment, "x")
    assert decoded.id != "e-1" and len(second.headers) == len(first.headers) + 1


def test_timestamps_match_protobufs_own_conversion() -> None:
    for moment in (
        datetime(2026, 12, 1, 23, 5, 7, 123456, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2026, 5, 5, 1, 2, 3, 4),  # naive: UTC
    ):
        expected = Timestamp()
        expected.FromDatetime(moment)
        assert timestamp(moment) == expected


async def test_a_typed_handler_gets_its_message_and_refuses_another_type() -> None:
    seen: list[str] = []

    async def on_approved(message: ContentApproved, event: Envelope) -> None:
        seen.append(f"{message.content_id}@{event.id}")

    handler = handles(ContentApproved, on_approved)
    moment = datetime.now(UTC)
    await handler(Envelope("e-1", "t", "/s", moment, "k", ContentApproved(content_id="c-1")))
    assert seen == ["c-1@e-1"]
    with pytest.raises(PermanentError, match="expected ContentApproved, got ContentRetracted"):
        await handler(Envelope("e-2", "t", "/s", moment, "k", ContentRetracted(content_id="c")))
