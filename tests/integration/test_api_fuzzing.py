"""Schemathesis over every service's OpenAPI, against the service running on
the real broker and MongoDB: its examples, boundary (coverage), fuzzing and
stateful phases (following the OpenAPI links from create to read to act),
authenticated with a token holding every role. Any 5xx, any response that
does not match its documented schema, status or content type fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chorus.content.main import ContentSettings
from chorus.content.main import build as build_content
from chorus.engagement.main import EngagementSettings
from chorus.engagement.main import build as build_engagement
from chorus.gamification.main import GamificationSettings
from chorus.gamification.main import build as build_gamification
from chorus.insights.main import InsightsSettings
from chorus.insights.main import build as build_insights
from chorus.kit.runtime import ServiceRuntime
from chorus_testing import (
    UNLIMITED_PUBLIC_ROUTES,
    bearer,
    drop_database,
    in_process,
    mint_link,
    running,
    unique,
)
from distribution_support import distribution_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

ALL_ROLES = ("admin", "curator", "approver", "advocate", "service")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Cases per operation and phase: about a minute per service on two cores.
MAX_EXAMPLES = int(os.environ.get("CHORUS_FUZZ_EXAMPLES", "15"))
LINK_EXAMPLE_URL = "https://acme.example/news/plant"
UNLIMITED = {
    "public_rate_per_second": float(UNLIMITED_PUBLIC_ROUTES["CHORUS_PUBLIC_RATE_PER_SECOND"]),
    "public_rate_burst": int(UNLIMITED_PUBLIC_ROUTES["CHORUS_PUBLIC_RATE_BURST"]),
}


async def fuzz(base_url: str, report: Path, tenant: str = "") -> int:
    """Run schemathesis against the live service; the number of cases it sent."""
    authorization = bearer(tenant or unique("fuzz"), "fuzzer", *ALL_ROLES)["Authorization"]
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "run",
        f"{base_url}/openapi.json",
        "--phases=examples,coverage,fuzzing,stateful",
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={MAX_EXAMPLES}",
        "--seed=20261202",
        "--request-timeout=20",
        "--suppress-health-check=all",
        "--report=json",
        f"--report-json-path={report}",
        f"--header=Authorization: {authorization}",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20_000:]
    summary: dict[str, Any] = json.loads(await asyncio.to_thread(report.read_text))
    assert summary["operations"]["tested"] == summary["operations"]["total"], summary["operations"]
    phases = {name: phase["status"] for name, phase in summary["phases"].items()}
    assert set(phases.values()) == {"success"}, phases
    cases = int(summary["test_cases"]["generated"])
    print(f"schemathesis {base_url}: {cases} cases")
    return cases


@contextlib.asynccontextmanager
async def served(runtime: ServiceRuntime) -> AsyncIterator[str]:
    """The service started in this process; its base URL."""
    async with running(runtime):
        yield f"http://127.0.0.1:{runtime.bound_http_port}"


async def test_content_api(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = ContentSettings(
        **in_process(kafka_bootstrap, mongo_url, "fuzz_content"),
    )
    async with served(build_content(settings)) as base_url:
        assert await fuzz(base_url, tmp_path / "report.json") > 0
    await drop_database(mongo_url, settings.database_name)


async def test_engagement_api(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = EngagementSettings(
        **in_process(kafka_bootstrap, mongo_url, "fuzz_engagement"),
        journal_dir=tmp_path,
        instance_id=unique("fuzz"),
        **UNLIMITED,
    )
    tenant = unique("fuzz")
    async with served(build_engagement(settings)) as base_url:
        # The item of POST /v1/links's example is live, so that the stateful
        # phase has a link to follow.
        async with httpx.AsyncClient(base_url=base_url) as http:
            await mint_link(
                http,
                kafka_bootstrap,
                tenant,
                content_id="c-7",
                url=LINK_EXAMPLE_URL,
                share_id="s-0",
            )
        assert await fuzz(base_url, tmp_path / "report.json", tenant) > 0
    await drop_database(mongo_url, settings.database_name)


async def test_gamification_api(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = GamificationSettings(
        **in_process(kafka_bootstrap, mongo_url, "fuzz_gamification"),
        role="api",
    )
    async with served(build_gamification(settings)) as base_url:
        assert await fuzz(base_url, tmp_path / "report.json") > 0
    await drop_database(mongo_url, settings.database_name)


async def test_insights_api(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    settings = InsightsSettings(**in_process(kafka_bootstrap, mongo_url, "fuzz_insights"))
    async with served(build_insights(settings)) as base_url:
        assert await fuzz(base_url, tmp_path / "report.json") > 0
    await drop_database(mongo_url, settings.database_name)


async def test_distribution_api(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    async with distribution_stack(
        kafka_bootstrap, mongo_url, simulator_url, tmp_path, **UNLIMITED
    ) as stack:
        assert await fuzz(str(stack.http.base_url).rstrip("/"), tmp_path / "report.json") > 0
