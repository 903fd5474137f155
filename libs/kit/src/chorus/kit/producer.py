"""The event producer: acks=all, idempotent, trace context in every record."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message
from opentelemetry.trace import SpanKind

from chorus.kit.envelope import Headers, OutgoingRecord, encode
from chorus.kit.metrics import Metrics
from chorus.kit.topics import Topic
from chorus.kit.tracing import inject_headers, tracer


class EventProducer:
    """Publishes events and returns only once Kafka acknowledged them (acks=all)."""

    def __init__(self, bootstrap: str, *, source: str, metrics: Metrics, client_id: str) -> None:
        self.source = source
        self._metrics = metrics
        self._kafka = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=30_000,
            retry_backoff_ms=200,
        )

    @property
    def kafka(self) -> AIOKafkaProducer:
        return self._kafka

    async def start(self) -> None:
        await self._kafka.start()

    async def stop(self) -> None:
        await self._kafka.stop()

    async def publish(
        self,
        topic: Topic,
        key: str,
        message: Message,
        *,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> str:
        """Publish one event; returns its ce_id once the broker has it."""
        attributes = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic.name,
            "messaging.kafka.message.key": key,
        }
        with tracer().start_as_current_span(
            f"send {topic.name}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            record = encode(
                topic,
                key,
                message,
                source=self.source,
                event_id=event_id,
                time=time,
                extra_headers=inject_headers(),
            )
            event_id = dict(record.headers)["ce_id"].decode()
            span.set_attribute("messaging.message.id", event_id)
            await self.send(record)
            return event_id

    async def send(self, record: OutgoingRecord) -> None:
        await self.send_raw(record.topic, record.key, record.value, record.headers)

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        """Send records side by side; returns once the broker has every one."""
        pending = [
            await self._kafka.send(r.topic, value=r.value, key=r.key, headers=r.headers)
            for r in records
        ]
        await asyncio.gather(*pending)
        for record in records:
            self._metrics.events_published.labels(record.topic).inc()

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        await self._kafka.send_and_wait(topic, value=value, key=key, headers=headers)
        self._metrics.events_published.labels(topic).inc()


def headers_with(headers: Headers, extra: Mapping[str, str]) -> Headers:
    replaced = set(extra)
    kept = [(name, value) for name, value in headers if name not in replaced]
    return kept + [(name, value.encode()) for name, value in extra.items()]
