"""Each service installs alone, exactly as deploy/docker/Dockerfile builds its
image (`uv sync --frozen --no-dev --no-editable --package chorus-<service>`
into a fresh environment), and starts from that environment against the
stack until /readyz answers 200: a service that imports what it does not
declare fails here, not in a cluster."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import httpx
import pytest

from chorus.kit.admin import delete_namespace, ensure_topics, topic_specs
from chorus_testing import drop_database, free_port, start_service, unique

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("content", "distribution", "engagement", "gamification", "insights", "hub")
OTHERS = {*SERVICES, "simulator", "demo"}


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_installs_alone_and_becomes_ready(
    service: str, kafka_bootstrap: str, mongo_url: str, tmp_path: Path
) -> None:
    environment = tmp_path / "venv"
    sync = await asyncio.create_subprocess_exec(
        *uv(),
        "sync",
        "--frozen",
        "--no-dev",
        "--no-editable",
        "--quiet",
        "--package",
        f"chorus-{service}",
        cwd=REPO,
        env={
            **os.environ,
            "UV_PROJECT_ENVIRONMENT": str(environment),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON": "python3.11",
            "UV_LINK_MODE": "copy",
        },
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await asyncio.wait_for(sync.communicate(), 600)
    assert sync.returncode == 0, errors.decode()
    installed = {p.name for p in environment.glob("lib/python3.11/site-packages/chorus/*")}
    assert service in installed and not (installed & OTHERS) - {service}, installed

    prefix, database = f"{unique('alone')}.", unique(f"test_alone_{service}").replace("-", "_")
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    port = free_port()
    env = {
        # Only what a container would get: no PYTHONPATH, no workspace on the path.
        "PATH": f"{environment / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CHORUS_TOPIC_PREFIX": prefix,
        "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
        "CHORUS_HTTP_PORT": str(port),
        "CHORUS_GRPC_PORT": str(free_port()),
        "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_JOURNAL_DIR": str(tmp_path / "journal"),
        "CHORUS_INSTANCE_ID": unique("alone"),
    }
    process = None
    try:
        process = await start_service(
            str(environment / "bin" / f"chorus-{service}"), env, port, timeout=60
        )
        if service == "hub":  # its templates, messages and static files came along
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                welcome, script = await http.get("/"), await http.get("/static/hub.js")
            assert welcome.status_code == 200 and "Sign in" in welcome.text, welcome.text
            assert script.status_code == 200
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 30) == 0
        await drop_database(mongo_url, database)
        await delete_namespace(kafka_bootstrap, prefix)
