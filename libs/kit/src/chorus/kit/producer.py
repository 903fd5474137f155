"""The event producer: acks=all, idempotent, trace context in every record."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from google.protobuf.message import Message
from opentelemetry.trace import SpanKind

from chorus.kit.envelope import Headers, OutgoingRecord, encode
from chorus.kit.metrics import Metrics
from chorus.kit.topics import Topic
from chorus.kit.tracing import inject_headers, tracer

if TYPE_CHECKING:  # the type create_batch() returns
    from aiokafka.producer.message_accumulator import BatchBuilder


class EventProducer:
    """Publishes events and returns only once Kafka acknowledged them (acks=all).

    Records name registry topics; the producer sends them in the namespace
    `topic_prefix` (see ServiceSettings.topic_prefix)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        source: str,
        metrics: Metrics,
        client_id: str,
        topic_prefix: str = "",
    ) -> None:
        self.source = source
        self.topic_prefix = topic_prefix
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
            "messaging.destination.name": self.topic_prefix + topic.name,
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
        """Send records side by side; returns once the broker has every one.

        Built into one record batch per partition through aiokafka's public
        batch API (in order within a partition): a per-record send() costs
        tens of µs of Python, which bounds a producer to about 15,000
        records/s here."""
        pending: list[asyncio.Future[Any]] = []
        batches: dict[tuple[str, int], BatchBuilder] = {}
        partitioner = _Partitioner(self._kafka)
        for record in records:
            topic = self.topic_prefix + record.topic
            partition = record.partition
            if partition is None:
                partition = await partitioner.partition(topic, record.key)
            batch = batches.get((topic, partition))
            if batch is None or not _append(batch, record):
                if batch is not None:  # full: send it, go on in a new one
                    pending.append(await self._kafka.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = self._kafka.create_batch()
                if not _append(batch, record):
                    raise ValueError(f"a record for {topic} exceeds the producer's batch size")
        for (topic, partition), batch in batches.items():
            pending.append(await self._kafka.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
        for topic, count in collections.Counter(r.topic for r in records).items():
            self._metrics.events_published.labels(topic).inc(count)

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        await self._kafka.send_and_wait(
            self.topic_prefix + topic, value=value, key=key, headers=headers
        )
        self._metrics.events_published.labels(topic).inc()


def _append(batch: BatchBuilder, record: OutgoingRecord) -> bool:
    """False when the batch is full."""
    metadata = batch.append(
        key=record.key, value=record.value, timestamp=None, headers=record.headers
    )
    return metadata is not None


def partition_of(key: str, partitions: int) -> int:
    """The partition of `partitions` a key's records go to, as every Kafka
    client's default partitioner picks it (murmur2 of the key)."""
    every = list(range(partitions))
    partition: int = DefaultPartitioner()(key.encode(), every, every)
    return partition


class _Partitioner:
    """The partition aiokafka's default partitioner gives a key (murmur2, as
    every Kafka client does), with each topic's partitions looked up once."""

    def __init__(self, kafka: AIOKafkaProducer) -> None:
        self._kafka = kafka
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}

    async def partition(self, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self._kafka.partitions_for(topic))
        partition: int = self._partitioner(key, partitions, partitions)
        return partition


def headers_with(headers: Headers, extra: Mapping[str, str]) -> Headers:
    replaced = set(extra)
    kept = [(name, value) for name, value in headers if name not in replaced]
    return kept + [(name, value.encode()) for name, value in extra.items()]
