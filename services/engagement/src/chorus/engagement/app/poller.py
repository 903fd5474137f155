"""The metric poller: a background task that polls due shares every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from chorus.engagement.app.engagement import EngagementApp

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, app: EngagementApp, interval_seconds: float) -> None:
        self._app = app
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metric-poller")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._app.poll_due()
            except Exception:
                log.exception("metric polling pass failed")
            await asyncio.sleep(self._interval)
