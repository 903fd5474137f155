"""The kit's consumer loop against the real broker and MongoDB: poison and
failing messages go to the dead-letter topic with a reason and the loop keeps
going; a consumer killed before it commits gets the records again and the
dedupe hook keeps the redelivery from having a second effect; `chorus dlq`
replays dead letters to their origin once the cause is fixed, never twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo.asynchronous.database import AsyncDatabase

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.kit.admin import delete_namespace, ensure_topics, topic_specs
from chorus.kit.consumer import CHUNK_RECORDS, Batched, EventConsumer, PermanentError
from chorus.kit.dedupe import MongoDeduplicator
from chorus.kit.envelope import Envelope
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.retry import RetryPolicy
from chorus.kit.topics import CONTENT_APPROVED, dead_letter_topic
from chorus_testing import create_dead_letter_topic, eventually, read_topic, unique

WORKER = Path(__file__).with_name("consumer_worker.py")


def item(content_id: str) -> ContentApproved:
    return ContentApproved(tenant="acme", content_id=content_id, title=content_id)


async def test_poison_and_failing_events_are_dead_lettered_and_the_loop_goes_on(
    kafka_bootstrap: str, fresh_topic: Any, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED)
    group = unique("test-dlq")
    dlq = await create_dead_letter_topic(kafka_bootstrap, group)
    metrics = Metrics()
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=metrics, client_id="test")
    await producer.start()
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async def handler(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        content_id = event.message.content_id
        attempts[content_id] = attempts.get(content_id, 0) + 1
        if content_id == "always-fails":
            raise ConnectionError("downstream is down")
        if content_id == "rejected":
            raise PermanentError("no such tenant")
        handled.append(content_id)

    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group=group,
        handlers={topic: handler},
        producer=producer,
        metrics=metrics,
        dedupe=MongoDeduplicator(mongo_db),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01),
    )
    try:
        await producer.send_raw(topic.name, b"acme:x", b"\x08\x96\x01garbage", [])
        for content_id in ("always-fails", "rejected", "good"):
            await producer.publish(topic, f"acme:{content_id}", item(content_id))
        await consumer.start()
        await eventually(lambda: asyncio.sleep(0, handled))
        dead = await read_topic(kafka_bootstrap, dlq, expect=3)
    finally:
        await consumer.stop()
        await producer.stop()

    assert handled == ["good"]
    assert attempts == {"always-fails": 3, "rejected": 1, "good": 1}
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    assert len(reasons) == 3
    assert reasons[0].startswith("undecodable: missing CloudEvents headers")
    assert reasons[1] == "failed after 3 attempts: ConnectionError: downstream is down"
    assert reasons[2] == "rejected: no such tenant"
    origin = dict(dead[1].headers)
    assert origin["dlq_origin_topic"].decode() == topic.name
    assert origin["dlq_origin_offset"] == b"1"
    assert dead[1].value == item("always-fails").SerializeToString()
    outcomes = metrics.render().decode()
    labels = f'group="{group}",outcome="dead_lettered",topic="{topic.name}"'
    assert f"chorus_events_consumed_total{{{labels}}} 3.0" in outcomes


async def chorus_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("chorus")),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_dead_letters_are_replayed_once_the_cause_is_fixed_and_only_once(
    kafka_bootstrap: str, fresh_topic: Any, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED)
    group = unique("test-replay")
    await create_dead_letter_topic(kafka_bootstrap, group)
    metrics = Metrics()
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=metrics, client_id="test")
    await producer.start()
    downstream_up = False
    handled: list[str] = []

    async def handler(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        if not downstream_up:
            raise ConnectionError("downstream is down")
        handled.append(event.message.content_id)

    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group=group,
        handlers={topic: handler},
        producer=producer,
        metrics=metrics,
        dedupe=MongoDeduplicator(mongo_db),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
    )
    replay = ("dlq", "replay", group, "--bootstrap", kafka_bootstrap)
    try:
        await consumer.start()
        for content_id in ("first", "second"):
            await producer.publish(topic, f"acme:{content_id}", item(content_id))

        async def dead_lettered() -> str | None:
            code, out, _ = await chorus_cli("dlq", "list", group, "--bootstrap", kafka_bootstrap)
            assert code == 0
            return out if out.count("downstream is down") == 2 else None

        listing = await eventually(dead_lettered, timeout=30, interval=0.5)
        assert f"{topic.name}[0]@0" in listing and f"{topic.name}[0]@1" in listing

        downstream_up = True
        code, _, err = await chorus_cli(*replay, "--dry-run")
        assert code == 0 and "2 dead letter(s)" in err and "not replayed" in err
        code, _, err = await chorus_cli(*replay, "--limit", "1")
        assert code == 0 and "1 dead letter(s)" in err and "replayed to their origin" in err
        await eventually(lambda: asyncio.sleep(0, handled == ["first"]), timeout=30)
        code, _, err = await chorus_cli(*replay)
        assert code == 0 and "1 dead letter(s)" in err
        await eventually(lambda: asyncio.sleep(0, handled == ["first", "second"]), timeout=30)
        code, _, err = await chorus_cli(*replay)
        assert code == 0 and "0 dead letter(s)" in err
        await asyncio.sleep(1)
        assert handled == ["first", "second"]
    finally:
        await consumer.stop()
        await producer.stop()
    code, _, err = await chorus_cli("dlq", "list", "no-such-group", "--bootstrap", kafka_bootstrap)
    assert code == 1 and "no dead-letter topic dlq.no-such-group" in err


async def test_a_consumer_killed_before_commit_is_redelivered_without_a_second_effect(
    kafka_bootstrap: str,
    mongo_url: str,
    fresh_topic: Any,
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED)
    group = unique("test-redelivery")
    await create_dead_letter_topic(kafka_bootstrap, group)
    metrics = Metrics()
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=metrics, client_id="test")
    await producer.start()
    for content_id in ("first", "second"):
        await producer.publish(topic, "acme:k", item(content_id))

    # A worker process applies "first", then hangs inside "second" before the
    # batch is committed; we SIGKILL it there.
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        kafka_bootstrap,
        topic.name,
        group,
        mongo_url,
        mongo_db.name,
        "second",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), 60)
    assert line.strip() == b"blocked on second"
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    effects = mongo_db["effects"]
    assert await effects.find_one({"_id": "first"}) == {"_id": "first", "count": 1}

    async def apply(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        await effects.update_one(
            {"_id": event.message.content_id}, {"$inc": {"count": 1}}, upsert=True
        )

    restarted = EventConsumer(
        bootstrap=kafka_bootstrap,
        group=group,
        handlers={topic: apply},
        producer=producer,
        metrics=metrics,
        dedupe=MongoDeduplicator(mongo_db),
    )
    await restarted.start()
    try:
        await eventually(lambda: effects.find_one({"_id": "second"}))
    finally:
        await restarted.stop()
        await producer.stop()
    assert await effects.find_one({"_id": "first"}) == {"_id": "first", "count": 1}
    assert await effects.find_one({"_id": "second"}) == {"_id": "second", "count": 1}
    text = metrics.render().decode()
    assert f'group="{group}",outcome="duplicate",topic="{topic.name}"}} 1.0' in text


async def test_a_batched_handler_gets_chunks_and_only_the_poison_event_is_dead_lettered(
    kafka_bootstrap: str, fresh_topic: Any
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED, partitions=2)
    group = unique("test-batched")
    dlq = await create_dead_letter_topic(kafka_bootstrap, group)
    metrics = Metrics()
    producer = EventProducer(kafka_bootstrap, source="/test", metrics=metrics, client_id="test")
    await producer.start()
    calls: list[list[str]] = []
    stored: set[str] = set()

    async def handler(events: Sequence[Envelope]) -> None:
        ids = [e.message.content_id for e in events if isinstance(e.message, ContentApproved)]
        calls.append(ids)
        if "poison" in ids:
            raise PermanentError("a title no store takes")
        stored.update(ids)

    names = [f"c{n}" for n in range(300)]
    names.insert(150, "poison")
    for name in names:
        await producer.publish(topic, f"acme:{name}", item(name))
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group=group,
        handlers={topic: Batched(handler)},
        producer=producer,
        metrics=metrics,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
        max_batch=1000,
    )
    try:
        await consumer.start()
        dead = await read_topic(kafka_bootstrap, dlq, expect=1)
        await eventually(lambda: asyncio.sleep(0, len(stored) == 300))
    finally:
        await consumer.stop()
        await producer.stop()

    assert stored == set(names) - {"poison"}
    assert dead[0].value == item("poison").SerializeToString()
    assert dict(dead[0].headers)["dlq_reason"] == b"rejected: a title no store takes"
    # Chunks, not a call per event: the 301 events came in a few calls, plus
    # one call per event of the chunk that held the poison one.
    chunk = next(ids for ids in calls if "poison" in ids)
    assert 1 < len(chunk) <= CHUNK_RECORDS
    assert len(calls) <= 2 * (301 // CHUNK_RECORDS + 2) + len(chunk)
    outcomes = metrics.render().decode()
    labels = f'group="{group}",outcome="processed",topic="{topic.name}"'
    assert f"chorus_events_consumed_total{{{labels}}} 300.0" in outcomes


async def test_a_topic_prefix_keeps_producer_consumer_and_dead_letters_in_their_namespace(
    kafka_bootstrap: str,
) -> None:
    prefix, group = f"{unique('ns')}.", "content"  # the group too is the namespace's
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    metrics = Metrics()
    producer = EventProducer(
        kafka_bootstrap, source="/test", metrics=metrics, client_id="test", topic_prefix=prefix
    )
    await producer.start()
    handled: list[str] = []

    async def handler(event: Envelope) -> None:
        assert isinstance(event.message, ContentApproved)
        if event.message.content_id == "bad":
            raise PermanentError("refused")
        handled.append(event.message.content_id)

    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group=group,
        handlers={CONTENT_APPROVED: handler},
        producer=producer,
        metrics=metrics,
        topic_prefix=prefix,
    )
    try:
        await producer.publish(CONTENT_APPROVED, "acme:bad", item("bad"))
        await producer.publish(CONTENT_APPROVED, "acme:ok", item("ok"))
        await consumer.start()
        await eventually(lambda: asyncio.sleep(0, handled == ["ok"]))
        dead = await read_topic(kafka_bootstrap, prefix + dead_letter_topic(group), expect=1)
    finally:
        await consumer.stop()
        await producer.stop()
        deleted = await delete_namespace(kafka_bootstrap, prefix)
    assert dead[0].value == item("bad").SerializeToString()
    assert sorted(deleted) == sorted(spec.name for spec in topic_specs(prefix))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        groups = [g for g, _ in await admin.list_consumer_groups()]
        left = [t for t in await admin.list_topics() if t.startswith(prefix)]
    finally:
        await admin.close()
    assert prefix + group in groups  # the consumer's group lives in the namespace too
    assert left == []
