"""Every answered click survives a SIGKILL: the engagement process is killed
right after a burst of redirects, restarted, and every click it answered appears
exactly once in engagement.observed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from chorus.contracts.engagement.v1.events_pb2 import ENGAGEMENT_KIND_CLICK, EngagementObserved
from chorus.kit.topics import ENGAGEMENT_OBSERVED
from chorus_testing import (
    UNLIMITED_PUBLIC_ROUTES,
    drop_database,
    end_offsets,
    free_port,
    mint_link,
    read_topic,
    start_service,
    unique,
)

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}


async def test_answered_clicks_survive_sigkill_exactly_once(
    kafka_bootstrap: str, mongo_url: str, tmp_path: Path
) -> None:
    database = unique("test_durability").replace("-", "_")
    http_port = free_port()
    env = {
        **os.environ,
        "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
        "CHORUS_HTTP_PORT": str(http_port),
        "CHORUS_GRPC_PORT": str(free_port()),
        "CHORUS_JOURNAL_DIR": str(tmp_path),
        "CHORUS_INSTANCE_ID": unique("engagement"),
        "CHORUS_LOG_LEVEL": "WARNING",
        **UNLIMITED_PUBLIC_ROUTES,
    }
    executable = str(Path(sys.executable).with_name("chorus-engagement"))
    tenant = unique("acme")
    since = await end_offsets(kafka_bootstrap, ENGAGEMENT_OBSERVED.name)

    async def start() -> asyncio.subprocess.Process:
        return await start_service(executable, env, http_port)

    process = await start()
    base = f"http://127.0.0.1:{http_port}"
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        link = await mint_link(client, kafka_bootstrap, tenant)

        answered_so_far = 0

        async def click() -> bool:
            nonlocal answered_so_far
            try:
                response = await client.get(f"/r/{link['code']}", headers=BROWSER)
            except httpx.HTTPError:
                return False  # not answered: the process died first
            answered_so_far += response.status_code == 302
            return response.status_code == 302

        burst = [asyncio.create_task(click()) for _ in range(300)]
        while answered_so_far < 50:  # kill while the burst is still arriving
            await asyncio.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        answered = sum(await asyncio.gather(*burst))
    assert answered > 0

    restarted = await start()
    try:
        records = await read_topic(
            kafka_bootstrap,
            ENGAGEMENT_OBSERVED.name,
            expect=answered + 1,
            since=since,
            timeout=60,
            where=lambda r: r.key == f"{tenant}:bob".encode(),
        )
    finally:
        restarted.send_signal(signal.SIGTERM)
        await restarted.wait()
        await drop_database(mongo_url, database)
    clicks = [
        r for r in records if EngagementObserved.FromString(r.value).kind == ENGAGEMENT_KIND_CLICK
    ]
    ids = [dict(r.headers)["ce_id"] for r in clicks]
    assert len(ids) == len(set(ids)), "a click was published twice"
    # Every answered click is there; a click written but killed before its answer may be too.
    assert answered <= len(clicks) <= 300
