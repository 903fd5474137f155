"""Runs one service: its HTTP server, gRPC server and background workers,
started in order and stopped in reverse on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from chorus.kit.grpc_server import GrpcServer
from chorus.kit.health import Health

log = logging.getLogger(__name__)


class Component(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Lifecycle:
    """A component made of two callables (e.g. a client's connect and close)."""

    on_start: Callable[[], Awaitable[None]]
    on_stop: Callable[[], Awaitable[None]]

    async def start(self) -> None:
        await self.on_start()

    async def stop(self) -> None:
        await self.on_stop()

    @classmethod
    def on_start_only(cls, on_start: Callable[[], Awaitable[None]]) -> Lifecycle:
        """For start-up work with nothing to undo (creating indexes)."""
        return cls(on_start, _nothing)

    @classmethod
    def on_stop_only(cls, on_stop: Callable[[], Awaitable[None]]) -> Lifecycle:
        """For something to close at the end (an HTTP client)."""
        return cls(_nothing, on_stop)


async def _nothing() -> None:
    return None


class _Uvicorn(uvicorn.Server):
    """Leaves signal handling to the runtime, which stops everything in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:
        pass


@dataclass
class ServiceRuntime:
    name: str
    http_app: FastAPI
    http_host: str
    http_port: int
    grpc: GrpcServer | None  # None: HTTP only (the hub)
    health: Health
    # Background workers are Supervisor components: one that dies is restarted
    # in the process (see supervisor.py), it never stops the service.
    components: Sequence[Component] = ()
    grace_seconds: float = 10.0
    _http: _Uvicorn | None = field(default=None, init=False)
    _http_task: asyncio.Task[None] | None = field(default=None, init=False)
    _started: list[Component] = field(default_factory=list, init=False)

    @property
    def bound_http_port(self) -> int:
        assert self._http is not None and self._http.servers, "not started"
        port: int = self._http.servers[0].sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        await self.health.start()
        for component in self.components:
            await component.start()
            self._started.append(component)
        if self.grpc is not None:
            await self.grpc.start()
        config = uvicorn.Config(
            self.http_app,
            host=self.http_host,
            port=self.http_port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=int(self.grace_seconds),
        )
        self._http = _Uvicorn(config)
        self._http_task = asyncio.create_task(self._http.serve(), name=f"{self.name}:http")
        while not self._http.started:
            if self._http_task.done():
                await self._http_task
                raise RuntimeError(f"HTTP server of {self.name} did not start")
            await asyncio.sleep(0.02)
        grpc_port = self.grpc.port if self.grpc else None
        log.info(
            "service started", extra={"http_port": self.bound_http_port, "grpc_port": grpc_port}
        )

    async def stop(self) -> None:
        if self._http and self._http_task:
            self._http.should_exit = True
            with contextlib.suppress(Exception):
                await self._http_task
        if self.grpc is not None:
            await self.grpc.stop(self.grace_seconds)
        for component in reversed(self._started):
            try:
                await component.stop()
            except Exception:
                log.exception("error while stopping", extra={"component": repr(component)})
        self._started.clear()
        await self.health.stop()
        log.info("service stopped")

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, then stop."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()
        return 0
