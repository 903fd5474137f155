"""The pieces every service's composition root assembles, built from settings.

Each service's main.py calls `Infrastructure.build(settings)`, adds its own
repositories, use cases, handlers and servicers, and returns `infra.runtime(...)`.
Nothing here runs at import time.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import APIRouter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from chorus.kit.auth import TokenVerifier
from chorus.kit.consumer import Batched, EventConsumer, Handler
from chorus.kit.dedupe import MongoDeduplicator
from chorus.kit.grpc_server import GrpcServer, Registration
from chorus.kit.health import Health, kafka_check, mongo_check
from chorus.kit.http import build_http_app
from chorus.kit.logs import configure_logging
from chorus.kit.metrics import Metrics
from chorus.kit.mongo import Document, mongo_client
from chorus.kit.producer import EventProducer
from chorus.kit.ratelimit import PublicLimits
from chorus.kit.retry import RetryPolicy
from chorus.kit.runtime import Component, Lifecycle, ServiceRuntime
from chorus.kit.settings import ServiceSettings
from chorus.kit.supervisor import Supervisor, Worker
from chorus.kit.topics import Topic, control_group
from chorus.kit.tracing import configure_tracing


async def _close_mongo(client: AsyncMongoClient[Document]) -> None:
    await client.close()


@dataclass
class Infrastructure:
    settings: ServiceSettings
    metrics: Metrics
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    producer: EventProducer
    health: Health
    verifier: TokenVerifier
    consumers: list[Supervisor] = field(default_factory=list)

    @classmethod
    def build(cls, settings: ServiceSettings) -> Infrastructure:
        metrics = Metrics()
        mongo = mongo_client(settings)
        producer = EventProducer(
            settings.kafka_bootstrap,
            source=f"/chorus/{settings.service_name}",
            metrics=metrics,
            client_id=f"chorus-{settings.service_name}",
            topic_prefix=settings.topic_prefix,
        )
        health = Health(metrics)
        health.add("kafka", kafka_check(producer.kafka))
        health.add("mongodb", mongo_check(mongo))
        return cls(
            settings=settings,
            metrics=metrics,
            mongo=mongo,
            db=mongo[settings.database_name],
            producer=producer,
            health=health,
            verifier=TokenVerifier.from_settings(settings),
        )

    def consumer(
        self,
        handlers: Mapping[Topic, Handler | Batched],
        *,
        control: bool = False,
        retry: RetryPolicy | None = None,
        concurrency: int = 1,
        dedupe: bool = True,
    ) -> EventConsumer:
        """A consumer in this service's group, or with `control` in its control
        group (see topics.CONTROL_TOPICS), deduping by event id in MongoDB
        (`dedupe=False` only where every handler is idempotent by itself)."""
        service = self.settings.service_name
        consumer = EventConsumer(
            bootstrap=self.settings.kafka_bootstrap,
            group=control_group(service) if control else service,
            handlers=handlers,
            producer=self.producer,
            metrics=self.metrics,
            dedupe=MongoDeduplicator(self.db) if dedupe else None,
            retry=retry,
            concurrency=concurrency,
            topic_prefix=self.settings.topic_prefix,
        )
        self.consumers.append(self.supervised(f"consumer:{consumer.group}", consumer))
        return consumer

    def public_limits(self) -> PublicLimits:
        """The per-client limits for this service's unauthenticated routes."""
        s = self.settings
        return PublicLimits(
            rate=s.public_rate_per_second,
            burst=s.public_rate_burst,
            trusted_proxy_hops=s.trusted_proxy_hops,
            registry=self.metrics.registry,
        )

    def supervised(self, name: str, worker: Worker) -> Supervisor:
        """`worker` restarted in the process when it stops unexpectedly; readiness
        fails while it is down, liveness once it has been down for minutes."""
        supervisor = Supervisor(name, worker, self.metrics)
        self.health.add(name, supervisor.check)
        self.health.add_liveness(supervisor.alive)
        return supervisor

    def runtime(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter] = (),
        grpc_services: Sequence[Registration] = (),
        components: Sequence[Component] = (),
    ) -> ServiceRuntime:
        """Start order: MongoDB, producer, the service's components, consumers, gRPC, HTTP."""
        s = self.settings
        mongo = Lifecycle(self.mongo.aconnect, lambda: _close_mongo(self.mongo))
        return ServiceRuntime(
            name=s.service_name,
            http_app=build_http_app(
                title=title,
                description=description,
                metrics=self.metrics,
                health=self.health,
                verifier=self.verifier,
                routers=routers,
            ),
            http_host=s.http_host,
            http_port=s.http_port,
            grpc=GrpcServer(
                host=s.http_host,
                port=s.grpc_port,
                metrics=self.metrics,
                health=self.health,
                registrations=grpc_services,
            ),
            health=self.health,
            components=[mongo, self.producer, *components, *self.consumers],
            grace_seconds=s.shutdown_grace_seconds,
        )


S = TypeVar("S", bound=ServiceSettings)


def tune_gc(young_threshold: int) -> None:
    """Collect young objects less often, and never scan what was built at
    start (modules, the composition root) again: gc.freeze()."""
    _, middle, old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_threshold, middle, old)


def run_service(settings_type: type[S], build: Callable[[S], ServiceRuntime]) -> None:
    """The body of every service's main(): settings checked first, then run."""
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level, settings.resolved_log_format)
    configure_tracing(f"chorus-{settings.service_name}")

    async def serve() -> int:
        # Kafka clients bind to the running loop: build inside it.
        runtime = build(settings)
        tune_gc(settings.gc_young_threshold)
        return await runtime.run()

    sys.exit(asyncio.run(serve()))
