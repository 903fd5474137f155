"""Each of the four services starts as its own process from its composition root,
answers liveness and readiness (really asking Kafka and MongoDB), exposes
/metrics and the standard gRPC health and reflection services, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pymongo import AsyncMongoClient

from chorus_testing import eventually, free_port, unique

SERVICES = {
    "content": "chorus.contracts.content.v1.ContentService",
    "distribution": "chorus.contracts.distribution.v1.DistributionService",
    "engagement": "chorus.contracts.engagement.v1.EngagementService",
    "gamification": "chorus.contracts.gamification.v1.GamificationService",
    "insights": "chorus.contracts.insights.v1.InsightsService",
}


async def listed_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for response in stub.ServerReflectionInfo(iter([request])):
        return {s.name for s in response.list_services_response.service}
    return set()


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_service_process_starts_serves_health_and_stops_on_sigterm(
    service: str, kafka_bootstrap: str, mongo_url: str
) -> None:
    http_port, grpc_port = free_port(), free_port()
    database = unique(f"test_{service}").replace("-", "_")
    env = {
        **os.environ,
        "CHORUS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CHORUS_MONGO_URL": mongo_url,
        "CHORUS_MONGO_DATABASE": database,
        "CHORUS_HTTP_PORT": str(http_port),
        "CHORUS_GRPC_PORT": str(grpc_port),
        "CHORUS_LOG_FORMAT": "json",  # the production format, asserted below
    }
    executable = Path(sys.executable).with_name(f"chorus-{service}")
    process = await asyncio.create_subprocess_exec(
        str(executable), env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:

            async def ready() -> httpx.Response | None:
                try:
                    response = await http.get("/readyz")
                except httpx.TransportError:
                    assert process.returncode is None, "the service exited at start"
                    return None
                return response if response.status_code == 200 else None

            report = (await eventually(ready, timeout=60)).json()
            assert report["status"] == "ready"
            assert {"kafka", "mongodb"} <= set(report["checks"])  # gamification adds "engine"
            assert set(report["checks"].values()) == {"ok"}
            assert (await http.get("/livez")).json() == {"status": "alive"}
            metrics = (await http.get("/metrics")).text
            assert 'chorus_dependency_ready{dependency="kafka"} 1.0' in metrics
            assert (await http.get("/openapi.json")).status_code == 200

        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def serving() -> bool:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICES[service]))
                return reply.status == health_pb2.HealthCheckResponse.SERVING

            await eventually(serving, timeout=10)
            assert SERVICES[service] in await listed_services(channel)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        await mongo.drop_database(database)
        await mongo.close()
    assert code == 0, log[-2000:]
    assert '"message": "service stopped"' in log
