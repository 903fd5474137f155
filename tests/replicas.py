"""Replicas of one service as real processes, for the scale-out tests: start
them on their own ports, watch one's readiness throughout, and run the dance
every such test runs under load — a second replica joins, leaves by SIGTERM, a
third joins and is SIGKILLed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chorus_testing import free_port, start_service


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    http_port: int
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 60)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


@dataclass
class Replicas:
    """Processes of `service` (its chorus-<service> entry point) sharing `env`;
    `per_replica(name)` adds what differs between them (an instance id)."""

    service: str
    env: dict[str, str]
    per_replica: Callable[[str], dict[str, str]] = lambda _name: {}
    started: list[Replica] = field(default_factory=list)

    async def start(self, name: str, *, env: dict[str, str] | None = None) -> Replica:
        http_port = free_port()
        full_env = {
            **os.environ,
            "CHORUS_LOG_LEVEL": "WARNING",
            **self.env,
            **self.per_replica(name),
            **(env or {}),
            "CHORUS_HTTP_PORT": str(http_port),
            "CHORUS_GRPC_PORT": str(free_port()),
        }
        executable = str(Path(sys.executable).with_name(f"chorus-{self.service}"))
        process = await start_service(executable, full_env, http_port)
        replica = Replica(name, process, http_port, full_env)
        self.started.append(replica)
        return replica

    async def restart(self, replica: Replica) -> Replica:
        """The same replica back (same instance id and volume), as a StatefulSet does."""
        return await self.start(replica.name, env=replica.env)

    async def stop_all(self) -> None:
        for replica in self.started:
            if replica.process.returncode is None:
                with contextlib.suppress(ProcessLookupError, TimeoutError):
                    await replica.terminate()


@contextlib.asynccontextmanager
async def replicas(
    service: str,
    env: dict[str, str],
    per_replica: Callable[[str], dict[str, str]] = lambda _name: {},
) -> AsyncIterator[Replicas]:
    group = Replicas(service, env, per_replica)
    try:
        yield group
    finally:
        await group.stop_all()


@dataclass
class ReadinessWatch:
    """Polls a replica's /readyz every 200 ms; `failures` lists every answer that
    was not 200 (or no answer at all)."""

    replica: Replica
    polls: int = 0
    failures: list[str] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ReadinessWatch]:
        task = asyncio.create_task(self._poll())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        async with httpx.AsyncClient(base_url=self.replica.base_url, timeout=5) as http:
            while True:
                try:
                    response = await http.get("/readyz")
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code}: {response.text[:300]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"no answer: {exc!r}")
                self.polls += 1
                await asyncio.sleep(0.2)


async def join_and_leave(group: Replicas, *, settle: float = 4.0) -> list[Replica]:
    """A second replica joins, works for `settle` seconds and leaves by SIGTERM;
    a third joins, works and is SIGKILLed. Returns [second, third]."""
    second = await group.start("second")
    await asyncio.sleep(settle)
    await second.terminate()
    assert second.process.returncode == 0, "the second replica did not stop cleanly"
    third = await group.start("third")
    await asyncio.sleep(settle)
    await third.kill()
    return [second, third]
