"""The supervisor restarts a worker that stops unexpectedly, reports it not
ready meanwhile, and not alive once it has stayed down too long."""

from __future__ import annotations

import asyncio

import pytest

from chorus.kit.metrics import Metrics
from chorus.kit.retry import RetryPolicy
from chorus.kit.supervisor import Supervisor

FAST = RetryPolicy(max_attempts=1000, base_delay=0.05, max_delay=0.05, jitter=0)


class FlakyWorker:
    """Crashes when told to; its restarts fail `failing_starts` times first."""

    def __init__(self, failing_starts: int = 0) -> None:
        self.starts = 0
        self.failing_starts = failing_starts
        self._crash: asyncio.Future[None] | None = None

    async def start(self) -> None:
        self.starts += 1
        if self.starts > 1 and self.failing_starts > 0:
            self.failing_starts -= 1
            raise ConnectionError("broker unreachable")
        self._crash = asyncio.get_running_loop().create_future()

    async def stop(self) -> None:
        pass

    async def wait(self) -> None:
        assert self._crash is not None
        await self._crash

    def crash(self) -> None:
        assert self._crash is not None
        self._crash.set_exception(RuntimeError("partition is not assigned"))


def restarts(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("chorus_worker_restarts_total", {"worker": "w"})
    return value or 0.0


async def test_a_crashed_worker_is_restarted_and_ready_again() -> None:
    metrics = Metrics()
    worker = FlakyWorker(failing_starts=2)
    supervisor = Supervisor("w", worker, metrics, backoff=FAST)
    await supervisor.start()
    await supervisor.check()
    worker.crash()
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match=r"w is down.*partition is not assigned"):
        await supervisor.check()
    for _ in range(100):
        if worker.starts == 4:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.01)
    await supervisor.check()  # up again after two failed restarts
    assert worker.starts == 4 and restarts(metrics) == 1
    assert supervisor.alive()
    await supervisor.stop()


async def test_a_worker_down_for_too_long_is_not_alive() -> None:
    worker = FlakyWorker(failing_starts=1000)
    supervisor = Supervisor("w", worker, Metrics(), backoff=FAST, down_for_liveness_seconds=0.2)
    await supervisor.start()
    worker.crash()
    await asyncio.sleep(0.1)
    assert supervisor.alive()
    await asyncio.sleep(0.3)
    assert not supervisor.alive()
    await supervisor.stop()


async def test_the_first_start_must_succeed() -> None:
    class Broken(FlakyWorker):
        async def start(self) -> None:
            raise ConnectionError("no broker")

    with pytest.raises(ConnectionError):
        await Supervisor("w", Broken(), Metrics(), backoff=FAST).start()
