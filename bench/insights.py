"""Insights: how fast it counts a programme's activity, and how fast its
dashboard answers over a big one.

- Ingest: the service, as its own process, works off a backlog of --ingest
  records (a programme's mix: one share.performed to three
  engagement.observed), beside the raw aiokafka consume rate of the same
  records (bench/consumers.py's insights case, in a topic namespace of its own).
- Dashboard: a quarter of activity, --events events (shares and their
  engagement) by --advocates advocates on 3 networks and 300 items, unevenly
  spread as real programmes are (a few advocates and items earn most), is
  written into the day buckets the service keeps (tenant, day, advocate,
  network, item: the same documents its ingest writes, built here in bulk so
  that a million events take seconds, not the ingest's minutes). Then the
  admin's dashboard (the programme report) is asked --rounds times for the
  quarter, a month and a week, and an advocate's own report for the quarter:
  p50 and p99 of each, in milliseconds, through the app layer the REST and
  gRPC edges call (so without HTTP; bench/engagement_redirect.py measures the
  HTTP edge).

    python bench/insights.py [--events 1000000] [--advocates 10000] [--ingest 100000]

Needs the local stack (make stack-up). Prints one JSON line. Goal: p99 of the
quarter's dashboard at most 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, InsertOne

sys.path.insert(0, str(Path(__file__).parent))
import consumers
from _load import stack_arguments

from chorus.insights.adapters.rollups import (
    points_rollup_updates,
    rollup_updates,
    shared_marks,
)
from chorus.insights.adapters.store import InsightsStore
from chorus.insights.app.reports import Filters, Reports
from chorus.insights.domain.activity import Awarded, Counted
from chorus.insights.domain.figures import Engagement
from chorus.insights.domain.periods import Period, PeriodKind, period_named
from chorus.kit.auth import Principal, Role

GOAL_P99_MS = 200.0
TENANT = "bench"
QUARTER = "2026-Q3"
ITEMS = 300
NETWORKS = ("linkedin", "x", "facebook")
# Per share, the engagement observations that follow it (kind, most likely deltas).
POINTS_PER_SHARE = 10
ENGAGEMENT = (("clicks", 3), ("unique_clicks", 2), ("reactions", 2), ("impressions", 80))


def skewed_index(rng: random.Random, size: int, skew: float) -> int:
    """An index in [0, size) where low indexes are likelier: with skew 2.5 the
    first 2% get about 21% of the draws (the field's "2% -> 20%"), the first
    20% about 53%."""
    return int(size * rng.random() ** skew)


def buckets(events: int, advocates: int) -> dict[str, Counter[str]]:
    """The day buckets `events` events (a quarter of shares, each followed by
    len(ENGAGEMENT) observations) add up to, keyed as the store keys them."""
    rng = random.Random(7)
    period = period_named(PeriodKind.QUARTER, QUARTER)
    days = (period.end - period.start).days
    per_share = 1 + len(ENGAGEMENT)
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for _ in range(events // per_share):
        advocate = f"adv-{skewed_index(rng, advocates, 2.5)}"
        item = f"item-{skewed_index(rng, ITEMS, 2.0)}"
        day = period.start + timedelta(days=rng.randrange(days))
        network = NETWORKS[rng.randrange(len(NETWORKS))]
        key = "|".join((TENANT, day.isoformat(), advocate, network, item))
        counters = found[key]
        counters["shares"] += 1
        for name, typical in ENGAGEMENT:
            counters[name] += rng.randrange(typical * 2 + 1)
    return found


def as_counted(key: str, counters: Counter[str]) -> Counted:
    tenant, day, advocate, network, content_id = key.split("|")
    engagement = Engagement(**{k: v for k, v in counters.items() if k != "shares"})
    when = date.fromisoformat(day)
    return Counted("", tenant, advocate, when, network, content_id, counters["shares"], engagement)


async def write(collection: Any, writes: list[Any]) -> None:
    for start in range(0, len(writes), 20_000):
        await collection.bulk_write(writes[start : start + 20_000], ordered=False)


async def seed(db: Any, events: int, advocates: int) -> int:
    """Writes the advocates' enrolments and audiences, the quarter's buckets
    and rollups, the points (POINTS_PER_SHARE for each share, on its day) and
    the items."""
    found = buckets(events, advocates)
    enrolled_at = datetime(2026, 6, 1, tzinfo=UTC)
    await db["advocates"].insert_many(
        [
            {
                "_id": f"{TENANT}:adv-{n}",
                "tenant": TENANT,
                "advocate": f"adv-{n}",
                "enrolled": n % 50 != 0,  # one in fifty has left since
                "groups": [f"team-{n % 40}"],
                "enrolled_at": enrolled_at,
                "left_at": None if n % 50 else datetime(2026, 9, 1, tzinfo=UTC),
                "changed_at": enrolled_at,
                # Some declared a LinkedIn audience; X reported the followers of half.
                "declared_audience": {"linkedin": 300 + n % 500} if n % 3 == 0 else {},
                "platform_audience": {"x": 40 + n % 90} if n % 2 == 0 else {},
            }
            for n in range(advocates)
        ]
    )
    await write(
        db["daily"],
        [
            InsertOne({"_id": key, **dict(zip(_DIMENSIONS, key.split("|"), strict=True)), **c})
            for key, c in found.items()
        ],
    )
    counted = [as_counted(key, counters) for key, counters in found.items()]
    awarded = [
        Awarded("", c.tenant, c.advocate, c.day, POINTS_PER_SHARE * c.shares) for c in counted
    ]
    await write(db["rollups"], rollup_updates(counted) + points_rollup_updates(awarded))
    await write(db["advocates"], shared_marks(counted))
    points: Counter[tuple[str, str]] = Counter()
    for a in awarded:
        points[a.advocate, a.day.isoformat()] += a.points
    await write(
        db["points_daily"],
        [
            InsertOne(
                {"_id": f"{TENANT}|{day}|{who}", "tenant": TENANT}
                | {"day": day, "advocate": who, "points": n}
            )
            for (who, day), n in points.items()
        ],
    )
    await db["contents"].insert_many(
        [
            {"_id": f"{TENANT}:item-{n}", "tenant": TENANT, "content_id": f"item-{n}"}
            | {"title": f"Item {n}", "tags": [f"tag-{n % 12}"]}
            for n in range(ITEMS)
        ]
    )
    return len(found)


_DIMENSIONS = ("tenant", "day", "advocate", "network", "content_id")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return round(statistics.median(ordered), 1), round(p99, 1)


async def timed(rounds: int, ask: Any) -> tuple[float, float]:
    await ask()  # warm the cache and the connection pool
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        await ask()
        samples.append((time.perf_counter() - began) * 1000)
    return percentiles(samples)


async def dashboard(mongo: str, events: int, advocates: int, rounds: int) -> dict[str, Any]:
    database = f"bench_insights_{uuid.uuid4().hex[:6]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo, tz_aware=True)
    try:
        db = client[database]
        store = InsightsStore(db)
        await store.ensure_indexes()
        await store.start_rollups()  # a new database: the rollups hold every day
        began = time.perf_counter()
        bucket_count = await seed(db, events, advocates)
        seeded_s = time.perf_counter() - began
        reports = Reports(store, min_group_size=5)
        admin = Principal("pat", TENANT, frozenset({Role.ADMIN}))
        advocate = Principal("adv-0", TENANT, frozenset({Role.ADVOCATE}))
        every = Filters()
        result: dict[str, Any] = {
            "events": events,
            "advocates": advocates,
            "day_buckets": bucket_count,
            "seed_s": round(seeded_s, 1),
        }
        for kind, name in (
            (PeriodKind.QUARTER, QUARTER),
            (PeriodKind.MONTH, "2026-08"),
            (PeriodKind.WEEK, "2026-W33"),
        ):
            period = period_named(kind, name)

            async def programme(period: Any = period) -> None:
                await reports.programme(admin, period, every)

            p50, p99 = await timed(rounds, programme)
            result |= {f"{kind}_dashboard_p50_ms": p50, f"{kind}_dashboard_p99_ms": p99}
        quarter = period_named(PeriodKind.QUARTER, QUARTER)
        # The quarter and the week from their rollups must be what their days
        # say, read from the buckets.
        matches = []
        for period in (quarter, period_named(PeriodKind.WEEK, "2026-W33")):
            as_days = Period(period.start, period.end)
            rolled_up = await reports.programme(admin, period, every)
            from_buckets = await reports.programme(admin, as_days, every)
            matches.append(replace(rolled_up, period=as_days) == from_buckets)
        result["rollups_match_buckets"] = all(matches)
        team = Filters(group="team-1")

        async def one_team() -> None:
            await reports.programme(admin, quarter, team)

        async def mine() -> None:
            await reports.mine(advocate, quarter)

        p50, p99 = await timed(rounds, one_team)
        result |= {"quarter_team_dashboard_p50_ms": p50, "quarter_team_dashboard_p99_ms": p99}
        p50, p99 = await timed(rounds, mine)
        result |= {"quarter_my_report_p50_ms": p50, "quarter_my_report_p99_ms": p99}
        return result
    finally:
        await client.drop_database(database)
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--advocates", type=int, default=10_000)
    parser.add_argument("--ingest", type=int, default=100_000, help="records; 0 skips ingest")
    parser.add_argument("--rounds", type=int, default=30)
    stack_arguments(parser)
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    result: dict[str, Any] = {"benchmark": "insights", "date": date.today().isoformat()}
    if args.ingest:
        case = next(c for c in consumers.CASES if c.service == "insights")
        ingest = await consumers.measure(case, args.bootstrap, args.mongo, args.ingest)
        result |= {"ingest_records": args.ingest} | {
            key.removeprefix("insights_"): value for key, value in ingest.items()
        }
    result |= await dashboard(args.mongo, args.events, args.advocates, args.rounds)
    result["goal_quarter_p99_ms"] = GOAL_P99_MS
    result["goal_met"] = result["quarter_dashboard_p99_ms"] <= GOAL_P99_MS
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
