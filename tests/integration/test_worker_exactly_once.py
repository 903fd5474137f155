"""Events for many advocates, 5% delivered twice, the worker stopped
mid-stream and restarted: every total and badge is exactly right. Then a
fresh worker process keeps counting from the stored states.

The worker is stopped mid-stream with SIGTERM; with SIGKILL while 100,000
events for 1,000 advocates flow; and SIGKILLed three times in a row in one
run: what it scored but had not committed comes again and the states' stored
offsets and event ids make it count once.

The file name sorts after the other integration tests on purpose: its
100,000 events on the shared topics would be a backlog for the services
those tests start in the consumer groups they share."""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from gamification_support import (
    metric,
    send_records,
    share,
    source_lag,
    start_worker,
    worker_env,
    workload,
)
from pymongo import AsyncMongoClient

from chorus.kit.topics import BADGE_EARNED
from chorus_testing import drop_database, end_offsets, eventually, free_port, read_topic, unique


@pytest.mark.timeout(600)
async def test_exactly_once_through_duplicates_and_a_fresh_worker(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    await exactly_once(kafka_bootstrap, mongo_url, 20_000, 200, ())


@pytest.mark.timeout(600)
async def test_exactly_once_through_duplicates_and_a_restart_mid_stream(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    await exactly_once(kafka_bootstrap, mongo_url, 20_000, 200, (signal.SIGTERM,))


@pytest.mark.timeout(900)
async def test_exactly_once_through_duplicates_a_sigkill_and_a_fresh_worker(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    await exactly_once(kafka_bootstrap, mongo_url, 100_000, 1_000, (signal.SIGKILL,))


@pytest.mark.timeout(900)
async def test_exactly_once_through_three_sigkills_in_a_row(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    kills = (signal.SIGKILL,) * 3
    await exactly_once(kafka_bootstrap, mongo_url, 30_000, 300, kills)


async def exactly_once(
    kafka_bootstrap: str,
    mongo_url: str,
    events: int,
    advocates: int,
    stops: Sequence[signal.Signals],
) -> None:
    tenant, database, app_id = unique("t"), unique("gam"), unique("chorus-gamification")
    port = free_port()
    env = worker_env(
        database=database,
        http_port=port,
        app_id=app_id,
        kafka=kafka_bootstrap,
        mongo=mongo_url,
    )
    # The engine alone: the API role's period closer would add top-N badges.
    env["CHORUS_ROLE"] = "worker"
    stream, totals, badges = workload(tenant, events, advocates)
    badges_since = await end_offsets(kafka_bootstrap, BADGE_EARNED.name)
    mongo: AsyncMongoClient[dict] = AsyncMongoClient(mongo_url)
    standings = mongo[database]["standings"]

    async def read_model() -> dict[str, dict]:
        return {doc["advocate"]: doc async for doc in standings.find({"tenant": tenant})}

    worker = await start_worker(env)
    try:
        sending = asyncio.create_task(send_records(kafka_bootstrap, stream))

        # Each worker scores its share of the stream (its own count, from its
        # start) before it is stopped; the next one starts on the same group.
        share_each = len(stream) / (2 * max(1, len(stops)))

        async def its_share_processed() -> bool:
            return await metric(port, "chorus_events_consumed_total") >= share_each

        for stop in stops:
            await eventually(its_share_processed, timeout=300, interval=0.2)
            worker.send_signal(stop)
            await worker.wait()
            worker = await start_worker(env, timeout=180, restart=True)
        await sending

        async def all_counted() -> dict[str, dict] | None:
            docs = await read_model()
            done = len(docs) == advocates and all(
                docs[a]["lifetime"] == total for a, total in totals.items()
            )
            return docs if done else None

        async def caught_up() -> bool:
            # Every source record committed (lag is reported every 5 s).
            return await source_lag(port) == 0.0

        # Lag that stays above zero this long means records were never scored.
        await eventually(caught_up, timeout=240, interval=1)
        try:
            # The read model is written before each commit; allow a slow machine time.
            docs = await eventually(all_counted, timeout=60, interval=1)
        except AssertionError:
            docs = await read_model()
            wrong = {
                a: (docs.get(a, {}).get("lifetime"), t)
                for a, t in totals.items()
                if docs.get(a, {}).get("lifetime") != t
            }
            pytest.fail(
                f"{len(wrong)} advocates wrong (got, expected), e.g. {list(wrong.items())[:5]}"
            )
        assert {a: set(doc["badges"]) for a, doc in docs.items()} == badges

        # Each badge was announced once: one event id per (advocate, badge).
        expected_pairs = {(a, b) for a, bs in badges.items() for b in bs}
        records = await read_topic(
            kafka_bootstrap,
            BADGE_EARNED.name,
            expect=len(expected_pairs),
            since=badges_since,
            timeout=60,
            where=lambda r: r.key.decode().startswith(f"{tenant}:"),
        )
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for record in records:
            headers = dict(record.headers)
            advocate = record.key.decode().split(":", 1)[1]
            from chorus.contracts.gamification.v1.events_pb2 import BadgeEarned

            ids[(advocate, BadgeEarned.FromString(record.value).badge)].add(
                headers["ce_id"].decode()
            )
        assert set(ids) == expected_pairs
        assert all(len(event_ids) == 1 for event_ids in ids.values())

        # A fresh worker process: it keeps counting from the stored states.
        worker.send_signal(signal.SIGTERM)
        assert await worker.wait() == 0
        worker = await start_worker(env, timeout=180, restart=True)
        extra = [f"adv-{n:04d}" for n in range(0, advocates, 10)]
        await send_records(kafka_bootstrap, [share(tenant, a, datetime.now(UTC)) for a in extra])

        async def continued() -> bool:
            docs = await read_model()
            return all(docs[a]["lifetime"] == totals[a] + 10 for a in extra)

        await eventually(continued, timeout=120, interval=1)
        docs = await read_model()
        untouched = [a for a in totals if a not in extra]
        assert all(docs[a]["lifetime"] == totals[a] for a in untouched)
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            await worker.wait()
        await mongo.close()
        await drop_database(mongo_url, database)
