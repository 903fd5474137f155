"""A posting worker SIGKILLed in the middle of an auto-share fan-out and
restarted finishes the rest with no duplicate post, counted at the simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from chorus.engagement.main import build as build_engagement
from chorus_testing import (
    bearer,
    drop_database,
    eventually,
    free_port,
    publish,
    running,
    start_service,
    unique,
)
from distribution_support import approved, auto_sharers, links_service_settings

ADVOCATES = 150


@pytest.mark.asyncio(loop_scope="session")
async def test_a_killed_worker_finishes_the_fan_out_without_duplicates(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    engagement_settings = links_service_settings(kafka_bootstrap, mongo_url, tmp_path)
    database = unique("test_distribution").replace("-", "_")
    port = free_port()
    tenant = unique("acme")
    advocates = [f"a{n:03d}" for n in range(ADVOCATES)]
    async with running(build_engagement(engagement_settings)) as engagement:
        env = {
            **os.environ,
            "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CHORUS_MONGO_URL": mongo_url,
            "CHORUS_MONGO_DATABASE": database,
            "CHORUS_HTTP_PORT": str(port),
            "CHORUS_GRPC_PORT": str(free_port()),
            "CHORUS_ENGAGEMENT_GRPC_TARGET": f"127.0.0.1:{engagement.grpc.port}",
            "CHORUS_LINKEDIN_API_BASE_URL": simulator_url,
            "CHORUS_X_API_BASE_URL": simulator_url,
            "CHORUS_LINKEDIN_APP_REQUESTS": "1000",
            "CHORUS_LINKEDIN_APP_WINDOW_SECONDS": "1",
            "CHORUS_POSTING_CONCURRENCY": "10",
            "CHORUS_PLATFORM_TIMEOUT_SECONDS": "5",
            "CHORUS_RECONCILE_SETTLE_SECONDS": "0.2",
            "CHORUS_LOG_LEVEL": "WARNING",
        }
        executable = str(Path(sys.executable).with_name("chorus-distribution"))
        base = f"http://127.0.0.1:{port}"

        async def start() -> asyncio.subprocess.Process:
            return await start_service(executable, env, port)

        worker = await start()
        async with (
            httpx.AsyncClient(base_url=base, timeout=15) as http,
            httpx.AsyncClient(base_url=simulator_url, timeout=15) as sim,
        ):
            await auto_sharers(http, sim, kafka_bootstrap, tenant, advocates)
            await sim.post(
                "/_sim/faults",
                json={"network": "linkedin", "kind": "slow", "ratio": 1.0, "seconds": 0.3},
            )

            async def posts() -> list[dict[str, str]]:
                every = (await sim.get("/_sim/posts")).json()["posts"]
                return [p for p in every if p["user_id"].startswith(f"{tenant}-")]

            try:
                await publish(kafka_bootstrap, [approved(tenant, "c1")])

                async def some_posted() -> bool:
                    return len(await posts()) >= 30

                await eventually(some_posted, timeout=60)
                worker.send_signal(signal.SIGKILL)
                await worker.wait()
                killed_at = len(await posts())
                assert killed_at < ADVOCATES, "the fan-out finished before the kill"

                worker = await start()

                async def all_posted() -> list[dict[str, str]] | None:
                    current = await posts()
                    return current if len(current) >= ADVOCATES else None

                await eventually(all_posted, timeout=120)
                await asyncio.sleep(2)  # anything posted twice would show up by now
                final = await posts()
                for advocate in advocates[:20]:
                    share = await http.get(
                        f"/v1/shares/auto-c1-{advocate}",
                        headers=bearer(tenant, advocate, "advocate"),
                    )
                    assert share.json()["networks"][0]["status"] == "posted"
            finally:
                await sim.post("/_sim/reset-faults")
                worker.send_signal(signal.SIGTERM)
                await worker.wait()
        per_member = Counter(p["user_id"] for p in final)
        assert len(per_member) == ADVOCATES and set(per_member.values()) == {1}
    await drop_database(mongo_url, database)
    await drop_database(mongo_url, engagement_settings.database_name)
