"""Keeps a background worker (a consumer loop, a relay) running: one that stops
unexpectedly is restarted in the process with backoff, and readiness reports it
down meanwhile, so Kubernetes takes the pod out of its Service instead of the
process exiting and taking every healthy part down with it. Liveness fails only
when the worker stays down for long: then a fresh process is the better bet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from chorus.kit.metrics import Metrics
from chorus.kit.retry import RetryPolicy

log = logging.getLogger(__name__)


class Worker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait(self) -> None:
        """Return (or raise) when the worker's own loop ended."""
        ...


# Backoff between restarts: 1 s, 2 s, 4 s ... up to 30 s, never giving up.
RESTART_BACKOFF = RetryPolicy(max_attempts=1_000_000, base_delay=1.0, max_delay=30.0)


class Supervisor:
    def __init__(
        self,
        name: str,
        worker: Worker,
        metrics: Metrics,
        *,
        backoff: RetryPolicy = RESTART_BACKOFF,
        down_for_liveness_seconds: float = 300.0,
    ) -> None:
        self.name = name
        self._worker = worker
        self._metrics = metrics
        self._backoff = backoff
        self._down_for_liveness = down_for_liveness_seconds
        self._down_since: float | None = None
        self._last_error = ""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first start must succeed: a service that cannot start at all should say so."""
        await self._worker.start()
        self._up()
        self._task = asyncio.create_task(self._watch(), name=f"supervisor:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._worker.stop()

    async def check(self) -> None:
        """Readiness: fails while the worker waits to be restarted."""
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            raise RuntimeError(
                f"{self.name} is down ({down:.0f} s), restarting: {self._last_error}"
            )

    def alive(self) -> bool:
        """Liveness: false once the worker has been down longer than the bound."""
        down_since = self._down_since
        return down_since is None or time.monotonic() - down_since < self._down_for_liveness

    async def _watch(self) -> None:
        while True:
            # Shielded: stopping the supervisor cancels this watch, and that must
            # not cancel the worker's own loop (its stop() ends it in order).
            waiter = asyncio.ensure_future(self._worker.wait())
            waiter.add_done_callback(_retrieve)
            try:
                await asyncio.shield(waiter)
                error = "its loop returned"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            self._down(error)
            log.error(
                "worker stopped unexpectedly; restarting it",
                extra={"worker": self.name, "error": error},
            )
            await self._restart()

    async def _restart(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            with contextlib.suppress(Exception):
                await self._worker.stop()
            await asyncio.sleep(self._backoff.delay(attempt))
            try:
                await self._worker.start()
            except Exception as exc:
                self._last_error = f"restart failed: {type(exc).__name__}: {exc}"
                log.warning(
                    "worker restart failed", extra={"worker": self.name, "error": self._last_error}
                )
                continue
            self._metrics.worker_restarts.labels(self.name).inc()
            self._up()
            log.info("worker restarted", extra={"worker": self.name, "attempt": attempt})
            return

    def _up(self) -> None:
        self._down_since = None
        self._metrics.worker_up.labels(self.name).set(1)

    def _down(self, error: str) -> None:
        self._down_since = time.monotonic()
        self._last_error = error[:300]
        self._metrics.worker_up.labels(self.name).set(0)


def _retrieve(task: asyncio.Future[None]) -> None:
    """An outcome nobody awaits any more (the supervisor stopped) is not an error."""
    if not task.cancelled():
        task.exception()
