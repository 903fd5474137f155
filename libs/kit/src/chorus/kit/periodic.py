"""A background job that runs every few seconds until the service stops; a
failing pass is logged and the next one runs as planned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicTask:
    def __init__(
        self, name: str, interval_seconds: float, work: Callable[[], Awaitable[object]]
    ) -> None:
        self._name = name
        self._interval = interval_seconds
        self._work = work
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._work()
            except Exception:
                log.exception("periodic task failed; it runs again", extra={"task": self._name})
            await asyncio.sleep(self._interval)
