"""Health that means something: readiness asks Kafka and MongoDB for real;
liveness watches the event loop for stalls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from chorus.kit.metrics import Metrics

Check = Callable[[], Awaitable[None]]


def kafka_check(producer: AIOKafkaProducer) -> Check:
    async def check() -> None:
        # A metadata round trip: the broker must answer, not just accept a socket.
        if not await producer.client.fetch_all_metadata():
            raise ConnectionError("no metadata from Kafka")

    return check


def mongo_check(client: AsyncMongoClient[dict[str, Any]]) -> Check:
    async def check() -> None:
        # Reaches the primary (or a mongos); a standalone server answers too but
        # cannot run the transactions and change streams Chorus relies on.
        hello = await client.admin.command("hello")
        if not hello.get("setName") and hello.get("msg") != "isdbgrid":
            raise ConnectionError(
                "MongoDB is a standalone server: Chorus needs a replica set "
                "(transactions, change streams)"
            )

    return check


@dataclass
class ReadinessReport:
    ready: bool
    checks: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks}


class Health:
    def __init__(
        self, metrics: Metrics, *, timeout: float = 2.0, cache_seconds: float = 1.0
    ) -> None:
        self._checks: dict[str, Check] = {}
        self._liveness: list[Callable[[], bool]] = []
        self._metrics = metrics
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._last: tuple[float, ReadinessReport] | None = None
        self._lock = asyncio.Lock()
        self._heartbeat = time.monotonic()
        self._heartbeat_task: asyncio.Task[None] | None = None

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def add_liveness(self, probe: Callable[[], bool]) -> None:
        """A part that, when false, means only a fresh process will help."""
        self._liveness.append(probe)

    async def readiness(self) -> ReadinessReport:
        async with self._lock:
            now = time.monotonic()
            if self._last and now - self._last[0] < self._cache_seconds:
                return self._last[1]
            results = await asyncio.gather(*(self._run(c) for c in self._checks.values()))
            checks = dict(zip(self._checks, results, strict=True))
            for name, result in checks.items():
                self._metrics.readiness.labels(name).set(1 if result == "ok" else 0)
            report = ReadinessReport(all(r == "ok" for r in results), checks)
            self._last = (now, report)
            return report

    async def _run(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout)
            return "ok"
        except Exception as exc:
            return f"error: {type(exc).__name__}: {exc}"[:300]

    # Liveness: a heartbeat task that a blocked event loop cannot run.
    async def start(self) -> None:
        self._heartbeat_task = asyncio.create_task(self._beat(), name="health:heartbeat")

    async def stop(self) -> None:
        if self._heartbeat_task:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task

    async def _beat(self) -> None:
        while True:
            self._heartbeat = time.monotonic()
            await asyncio.sleep(0.5)

    def alive(self, max_stall_seconds: float = 10.0) -> bool:
        if time.monotonic() - self._heartbeat >= max_stall_seconds:
            return False
        return all(probe() for probe in self._liveness)
