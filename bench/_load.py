"""Shared benchmark helpers: a closed-loop HTTP load generator on loopback and
servers started as their own processes (so the generator does not share their
event loop)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    per_second: float
    p50_ms: float
    p99_ms: float
    p95_ms: float = float("nan")


def stack_arguments(parser: argparse.ArgumentParser) -> None:
    """--bootstrap and --mongo, defaulting to the settings' variables, then the local stack."""
    parser.add_argument(
        "--bootstrap", default=os.environ.get("CHORUS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--mongo", default=os.environ.get("CHORUS_MONGO_URL", "mongodb://127.0.0.1:27017")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def load(
    url: str,
    *,
    seconds: float,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
    expect_status: int = 200,
    follow_redirects: bool = False,
) -> LoadResult:
    """`concurrency` workers send requests back to back for `seconds`."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        limits=limits, headers=dict(headers or {}), timeout=10, follow_redirects=follow_redirects
    ) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = response.status_code == expect_status
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        per_second=len(latencies) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
    )


async def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s")
            await asyncio.sleep(0.2)


def start_process(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def python() -> str:
    return sys.executable


def figures(prefix: str, result: LoadResult) -> dict[str, float]:
    return {
        f"{prefix}_rps": round(result.per_second, 1),
        f"{prefix}_p50_ms": round(result.p50_ms, 2),
        f"{prefix}_p99_ms": round(result.p99_ms, 2),
        f"{prefix}_errors": result.errors,
    }
