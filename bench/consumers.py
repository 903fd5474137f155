"""Every consuming service against a backlog of its real topic mix, beside the
raw aiokafka consume rate of the same records.

For each service, in a topic namespace of its own (CHORUS_TOPIC_PREFIX) and a
database of its own, so nothing is left for `make run`:
- a backlog of --records records is produced;
- one aiokafka consumer reads exactly those records: the raw consume rate;
- the service starts as its own process (one replica) and works the backlog
  off; its rate is counted from its group's first commit to its last;
- what it wrote is checked against what was sent (every share stored once,
  every click counted once, every enrolment applied).

Mixes: content reads share.performed; engagement one share.performed (an API
post, polled later) to three engagement.observed; distribution's control group
reads advocate.lifecycle (an HR sync enrolling people), with program.changed
and content.retracted in it; insights reads engagement's mix (a programme's
activity) into its day buckets. Distribution's posting path (share.requested) is
bounded by the platforms' round trips, not by the consumer:
bench/distribution_fanout.py measures it.

    python bench/consumers.py [--records 100000] [--only content,engagement]

Needs the local stack (make stack-up). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).parent))
from _load import free_port, python, stack_arguments, start_process, stop_process, wait_http
from _namespace import topic_namespace

from chorus.contracts.common.v1.common_pb2 import NETWORK_LINKEDIN, SHARE_MODE_API
from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentRetracted,
    ProgramChanged,
)
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import EngagementObserved
from chorus.kit.envelope import Encoder, OutgoingRecord
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import (
    ADVOCATE_LIFECYCLE,
    CONTENT_RETRACTED,
    ENGAGEMENT_OBSERVED,
    PROGRAM_CHANGED,
    SHARE_PERFORMED,
    Topic,
    by_name,
    control_group,
)

GOAL_RATIO = 0.02
TENANT = "bench"
ADVOCATES = 10_000


@dataclass(frozen=True)
class Case:
    service: str
    group: str
    records: Callable[[Encoder, int], list[OutgoingRecord]]
    # (database, records sent) -> None when what was written matches, else why not
    check: Callable[[Any, list[OutgoingRecord]], Any]


def _advocate(rng: random.Random) -> str:
    return f"adv-{rng.randrange(ADVOCATES)}"


def _share(encoder: Encoder, rng: random.Random, share_id: str) -> OutgoingRecord:
    advocate = _advocate(rng)
    message = SharePerformed(
        tenant=TENANT,
        advocate=advocate,
        share_id=share_id,
        content_id=f"item-{rng.randrange(500)}",
        network=NETWORK_LINKEDIN,
        mode=SHARE_MODE_API,
        post_ref=f"urn:li:share:{share_id}",
    )
    message.performed_at.GetCurrentTime()
    return encoder.encode(SHARE_PERFORMED, f"{TENANT}:{advocate}", message)


def content_records(encoder: Encoder, count: int) -> list[OutgoingRecord]:
    rng = random.Random(1)
    return [_share(encoder, rng, f"s{n}") for n in range(count)]


def engagement_records(encoder: Encoder, count: int) -> list[OutgoingRecord]:
    rng, records = random.Random(2), []
    shares = max(1, count // 4)
    for n in range(count):
        if n % 4 == 0:
            records.append(_share(encoder, rng, f"s{n // 4}"))
            continue
        advocate = _advocate(rng)
        message = EngagementObserved(
            tenant=TENANT,
            advocate=advocate,
            share_id=f"s{rng.randrange(shares)}",
            content_id=f"item-{rng.randrange(500)}",
            network=NETWORK_LINKEDIN,
            kind=1,
            delta=1,
        )
        message.observed_at.GetCurrentTime()
        records.append(encoder.encode(ENGAGEMENT_OBSERVED, f"{TENANT}:{advocate}", message))
    return records


def distribution_records(encoder: Encoder, count: int) -> list[OutgoingRecord]:
    rng, records = random.Random(3), []
    for n in range(count):
        if n % 100 == 0:
            program = ProgramChanged(tenant=TENANT, policy_version=1, shares_per_day=5, version=n)
            records.append(encoder.encode(PROGRAM_CHANGED, TENANT, program))
        elif n % 100 == 1:
            item = f"item-{n}"
            retracted = ContentRetracted(tenant=TENANT, content_id=item)
            records.append(encoder.encode(CONTENT_RETRACTED, f"{TENANT}:{item}", retracted))
        else:
            advocate = f"adv-{n}"  # every enrolment its own advocate: all must be there
            change = AdvocateLifecycle(
                tenant=TENANT,
                advocate=advocate,
                change=AdvocateLifecycle.CHANGE_ENROLLED,
                policy_version=1,
                groups=[rng.choice(("sales", "eng", "ops"))],
            )
            records.append(encoder.encode(ADVOCATE_LIFECYCLE, f"{TENANT}:{advocate}", change))
    return records


def _count(records: list[OutgoingRecord], topic: Topic) -> int:
    return sum(1 for record in records if record.topic == topic.name)


async def check_content(db: Any, records: list[OutgoingRecord]) -> str | None:
    stored = await db["shares_seen"].count_documents({"tenant": TENANT})
    expected = _count(records, SHARE_PERFORMED)
    return None if stored == expected else f"{stored} shares stored, {expected} sent"


async def check_engagement(db: Any, records: list[OutgoingRecord]) -> str | None:
    targets = await db["poll_targets"].count_documents({"tenant": TENANT})
    cursor = db["totals"].find({"_id": {"$regex": f"^content:{TENANT}:"}}, {"counts": 1})
    clicks = sum([int(doc.get("counts", {}).get("click", 0)) async for doc in cursor])
    shares, observed = _count(records, SHARE_PERFORMED), _count(records, ENGAGEMENT_OBSERVED)
    if targets != shares or clicks != observed:
        return f"{targets}/{shares} poll targets, {clicks}/{observed} clicks counted"
    return None


async def check_distribution(db: Any, records: list[OutgoingRecord]) -> str | None:
    stored = await db["advocates"].count_documents({})
    expected = _count(records, ADVOCATE_LIFECYCLE)
    return None if stored == expected else f"{stored} advocates stored, {expected} sent"


async def check_insights(db: Any, records: list[OutgoingRecord]) -> str | None:
    cursor = await db["daily"].aggregate(
        [
            {"$match": {"tenant": TENANT}},
            {"$group": {"_id": None, "shares": {"$sum": "$shares"}, "clicks": {"$sum": "$clicks"}}},
        ]
    )
    found = (await cursor.to_list(1)) or [{"shares": 0, "clicks": 0}]
    shares, observed = _count(records, SHARE_PERFORMED), _count(records, ENGAGEMENT_OBSERVED)
    if (found[0]["shares"], found[0]["clicks"]) != (shares, observed):
        return (
            f"{found[0]['shares']}/{shares} shares, {found[0]['clicks']}/{observed} clicks counted"
        )
    return None


CASES = (
    Case("content", "content", content_records, check_content),
    Case("engagement", "engagement", engagement_records, check_engagement),
    Case(
        "distribution",
        control_group("distribution"),
        distribution_records,
        check_distribution,
    ),
    # The same mix as engagement's: what a programme's activity looks like.
    Case("insights", "insights", engagement_records, check_insights),
)


def partitions(prefix: str, records: Sequence[OutgoingRecord]) -> list[TopicPartition]:
    """Every partition of the namespace's topics the records went to."""
    topics = {by_name(record.topic) for record in records}
    return [TopicPartition(prefix + t.name, p) for t in topics for p in range(t.partitions)]


async def raw_consume_rate(bootstrap: str, tps: list[TopicPartition], count: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, began = 0, time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - began)
    finally:
        await consumer.stop()


async def committed(admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]) -> int:
    offsets = await admin.list_consumer_group_offsets(group, partitions=tps)
    return sum(max(0, meta.offset) for meta in offsets.values())


async def service_rate(
    bootstrap: str, group: str, tps: list[TopicPartition], count: int, timeout: float
) -> float:
    """Records/s of the group from its first commit to the one at the end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        first: tuple[float, int] | None = None
        while time.monotonic() < deadline:
            done = await committed(admin, group, tps)
            now = time.perf_counter()
            if first is None and done > 0:
                first = (now, done)
            if done >= count and first is not None:
                return (count - first[1]) / max(now - first[0], 1e-6)
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{group} did not finish its backlog within {timeout:.0f} s")
    finally:
        await admin.close()


async def measure(case: Case, bootstrap: str, mongo: str, count: int) -> dict[str, Any]:
    async with topic_namespace(bootstrap, case.service) as prefix:
        return await measure_in(case, bootstrap, mongo, count, prefix)


async def measure_in(
    case: Case, bootstrap: str, mongo: str, count: int, prefix: str
) -> dict[str, Any]:
    database = f"bench_consumers_{case.service}_{uuid.uuid4().hex[:6]}"
    producer = EventProducer(
        bootstrap, source="/bench", metrics=Metrics(), client_id="bench", topic_prefix=prefix
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo, tz_aware=True)
    process = None
    try:
        records = case.records(Encoder("/bench"), count)
        await producer.start()
        for start in range(0, len(records), 10_000):
            await producer.send_all(records[start : start + 10_000])
        await producer.stop()
        tps = partitions(prefix, records)
        raw = await raw_consume_rate(bootstrap, tps, count)
        port = free_port()
        process = start_process(
            [python(), "-m", f"chorus.{case.service}.main"],
            {
                "CHORUS_TOPIC_PREFIX": prefix,
                "CHORUS_MONGO_DATABASE": database,
                "CHORUS_KAFKA_BOOTSTRAP": bootstrap,
                "CHORUS_MONGO_URL": mongo,
                "CHORUS_HTTP_PORT": str(port),
                "CHORUS_GRPC_PORT": str(free_port()),
                "CHORUS_LOG_LEVEL": "WARNING",
                "CHORUS_JOURNAL_DIR": f"/tmp/{database}",
                "CHORUS_INSTANCE_ID": database,
                "CHORUS_POLL_INTERVAL_SECONDS": "3600",
                "OTEL_TRACES_EXPORTER": "none",
            },
        )
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        rate = await service_rate(bootstrap, prefix + case.group, tps, count, timeout=900)
        problem = await case.check(client[database], records)
        return {
            f"{case.service}_records_per_s": round(rate),
            f"{case.service}_raw_consume_per_s": round(raw),
            f"{case.service}_ratio": round(rate / raw, 3),
            f"{case.service}_correct": problem is None,
            **({f"{case.service}_problem": problem} if problem else {}),
        }
    finally:
        if process is not None:
            stop_process(process)
        await client.drop_database(database)
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--only", default="", help="comma-separated services")
    stack_arguments(parser)
    args = parser.parse_args()
    # Fresh topics answer "not leader" for a moment; the producer retries.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    wanted = {name for name in args.only.split(",") if name}
    result: dict[str, Any] = {"benchmark": "consumers", "records": args.records}
    for case in CASES:
        if not wanted or case.service in wanted:
            result |= await measure(case, args.bootstrap, args.mongo, args.records)
    result["goal_ratio"] = GOAL_RATIO
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
