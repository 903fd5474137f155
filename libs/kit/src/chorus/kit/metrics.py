"""Prometheus metrics with bounded labels, one registry per service instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["PROMETHEUS_CONTENT_TYPE", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Metrics:
    """The metrics every service shares; services add their own to `registry`."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "chorus_http_requests_total",
            "HTTP requests by route, method and status class.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "chorus_http_request_seconds",
            "HTTP request latency by route and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.grpc_requests = Counter(
            "chorus_grpc_requests_total",
            "gRPC calls by method and status code.",
            ["method", "code"],
            registry=r,
        )
        self.grpc_latency = Histogram(
            "chorus_grpc_request_seconds",
            "gRPC call latency by method.",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.events_published = Counter(
            "chorus_events_published_total",
            "Events acknowledged by Kafka, by topic.",
            ["topic"],
            registry=r,
        )
        self.events_consumed = Counter(
            "chorus_events_consumed_total",
            "Consumed records by topic, group and outcome (processed, duplicate, dead_lettered).",
            ["topic", "group", "outcome"],
            registry=r,
        )
        self.handler_latency = Histogram(
            "chorus_event_handler_seconds",
            "Time to handle one event, by topic and group.",
            ["topic", "group"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.handler_retries = Counter(
            "chorus_event_handler_retries_total",
            "Handler attempts that failed and were retried.",
            ["topic", "group"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "chorus_consumer_lag",
            "Records behind the end of the partition, per group.",
            ["topic", "group", "partition"],
            registry=r,
        )
        self.consumer_rebalances = Counter(
            "chorus_consumer_rebalances_total",
            "Partition assignments this member received (each rebalance counts one).",
            ["group"],
            registry=r,
        )
        self.consumer_assigned = Gauge(
            "chorus_consumer_assigned_partitions",
            "Partitions this member owns now.",
            ["group"],
            registry=r,
        )
        self.consumer_commits_refused = Counter(
            "chorus_consumer_commits_refused_total",
            "Offset commits the group refused because it had rebalanced (normal).",
            ["group"],
            registry=r,
        )
        self.worker_restarts = Counter(
            "chorus_worker_restarts_total",
            "Background workers (consumers, relays) restarted after they stopped unexpectedly.",
            ["worker"],
            registry=r,
        )
        self.worker_up = Gauge(
            "chorus_worker_up",
            "1 while a background worker runs, 0 while it waits to be restarted.",
            ["worker"],
            registry=r,
        )
        self.readiness = Gauge(
            "chorus_dependency_ready",
            "1 when a dependency answered the last readiness check.",
            ["dependency"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
