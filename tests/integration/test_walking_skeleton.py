"""The walking skeleton: an event published through the real broker is consumed
by another service (distribution, built by its own composition root), visible
through its REST and gRPC APIs, with the trace id carried across Kafka."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient

from chorus.contracts.common.v1.common_pb2 import Commentary, Network
from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.contracts.distribution.v1 import distribution_service_pb2 as dist_pb
from chorus.contracts.distribution.v1 import distribution_service_pb2_grpc as dist_grpc
from chorus.distribution.main import DistributionSettings, build
from chorus.kit.auth import mint_token
from chorus.kit.devkey import DEV_PRIVATE_KEY_PEM
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_APPROVED
from chorus.kit.tracing import configure_tracing, tracer
from chorus_testing import eventually, unique


def token(tenant: str) -> str:
    return mint_token(
        private_key_pem=DEV_PRIVATE_KEY_PEM,
        tenant=tenant,
        subject="alice",
        roles=["advocate"],
        issuer="chorus-dev",
        audience="chorus",
    )


def _status_details(error: grpc.aio.AioRpcError) -> list[Any]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return list(status_pb2.Status.FromString(value).details)
    raise AssertionError("no rich status details")


async def test_an_approved_item_reaches_distribution_with_its_trace(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    spans = InMemorySpanExporter()
    configure_tracing("chorus-tests").add_span_processor(SimpleSpanProcessor(spans))
    database = unique("test_distribution").replace("-", "_")
    settings = DistributionSettings(
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        mongo_database=database,
        http_port=0,
        grpc_port=0,
    )
    service = build(settings)
    await service.start()
    producer = EventProducer(
        kafka_bootstrap, source="/chorus/content", metrics=Metrics(), client_id="test-content"
    )
    await producer.start()
    tenant, content_id = unique("tenant"), unique("item")
    item = ContentApproved(
        tenant=tenant,
        content_id=content_id,
        title="Our new plant",
        url="https://acme.example/p",
        commentaries=[Commentary(network=Network.NETWORK_LINKEDIN, text="Proud of this!")],
        disclosure="#employee",
    )
    try:
        with tracer().start_as_current_span("curator approves") as root:
            event_id = await producer.publish(CONTENT_APPROVED, f"{tenant}:{content_id}", item)
        trace_id = root.get_span_context().trace_id

        base = f"http://127.0.0.1:{service.bound_http_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            auth = {"Authorization": f"Bearer {token(tenant)}"}

            async def fetched() -> httpx.Response | None:
                response = await http.get(f"/v1/content/{content_id}", headers=auth)
                return response if response.status_code == 200 else None

            response = await eventually(fetched, timeout=45)
            assert response.json()["content"]["title"] == "Our new plant"
            assert response.json()["retracted"] is False
            # Another tenant's token never sees it.
            other = await http.get(
                f"/v1/content/{content_id}", headers={"Authorization": f"Bearer {token('globex')}"}
            )
            assert other.status_code == 404
            assert (await http.get("/readyz")).json()["status"] == "ready"

        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc.port}") as channel:
            reply = await dist_grpc.DistributionServiceStub(channel).GetSharableContent(
                dist_pb.GetSharableContentRequest(content_id=content_id),
                metadata=[("authorization", f"Bearer {token(tenant)}")],
            )
            assert reply.content == item
            try:
                await dist_grpc.DistributionServiceStub(channel).GetSharableContent(
                    dist_pb.GetSharableContentRequest(content_id="missing"),
                    metadata=[("authorization", f"Bearer {token(tenant)}")],
                )
                raise AssertionError("a missing item must be NOT_FOUND")
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
                info = error_details_pb2.ErrorInfo()
                details = _status_details(error)
                assert details[0].Unpack(info) and info.reason == "NOT_FOUND"
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="")
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await producer.stop()
        await service.stop()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
        await mongo.drop_database(database)
        await mongo.close()

    processed = [
        s
        for s in spans.get_finished_spans()
        if s.name == "process content.approved"
        and s.attributes
        and s.attributes.get("messaging.message.id") == event_id
    ]
    assert len(processed) == 1
    assert processed[0].context.trace_id == trace_id
    assert processed[0].attributes["messaging.consumer.group.name"] == "distribution"
