"""Setting up distribution scenarios: the program, enrolled advocates, an
approved item (as content would publish them) and connected accounts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.common.v1.common_pb2 import (
    NETWORK_FACEBOOK,
    NETWORK_LINKEDIN,
    NETWORK_X,
    Commentary,
)
from chorus.contracts.content.v1.events_pb2 import (
    AdvocateLifecycle,
    ContentApproved,
    ProgramChanged,
)
from chorus.distribution.main import DistributionSettings
from chorus.distribution.main import build as build_distribution
from chorus.engagement.main import EngagementSettings
from chorus.engagement.main import build as build_engagement
from chorus.kit.topics import ADVOCATE_LIFECYCLE, CONTENT_APPROVED, PROGRAM_CHANGED, control_group
from chorus_testing import (
    bearer,
    drop_database,
    eventually,
    group_caught_up,
    publish,
    running,
    unique,
)


def stamp(value: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(value)
    return result


def program(tenant: str, *, hard_limit: bool = False, per_day: int = 10) -> tuple[Any, str, Any]:
    return (
        PROGRAM_CHANGED,
        tenant,
        ProgramChanged(
            tenant=tenant,
            policy_version=1,
            disclosure="#employee",
            disclosure_auto_append=True,
            shares_per_day=per_day,
            shares_per_week=50,
            frequency_hard_limit=hard_limit,
            version=1,
        ),
    )


def enrolled(
    tenant: str, advocate: str, *, auto_share: bool = False, groups: tuple[str, ...] = ()
) -> tuple[Any, str, Any]:
    return (
        ADVOCATE_LIFECYCLE,
        f"{tenant}:{advocate}",
        AdvocateLifecycle(
            tenant=tenant,
            advocate=advocate,
            change=AdvocateLifecycle.CHANGE_ENROLLED,
            policy_version=1,
            auto_share=auto_share,
            groups=groups,
        ),
    )


def approved(tenant: str, content_id: str, **fields: Any) -> tuple[Any, str, Any]:
    now = datetime.now(UTC)
    return (
        CONTENT_APPROVED,
        f"{tenant}:{content_id}",
        ContentApproved(
            tenant=tenant,
            content_id=content_id,
            title="Our new plant",
            url=f"https://acme.example/{content_id}",
            commentaries=[
                Commentary(network=NETWORK_LINKEDIN, text="Proud of the team! #employee"),
                Commentary(network=NETWORK_X, text="New plant! #employee"),
                Commentary(network=NETWORK_FACEBOOK, text="Look! #employee"),
            ],
            publish_at=stamp(now - timedelta(minutes=1)),
            expires_at=stamp(now + timedelta(days=7)),
            disclosure="#employee",
            disclosure_auto_append=True,
            **fields,
        ),
    )


async def seed(
    kafka: str,
    http: httpx.AsyncClient,
    tenant: str,
    advocates: list[str],
    content_ids: list[str],
    **options: Any,
) -> None:
    """Publish the events and wait until distribution has its read models."""
    events = [program(tenant, **options.get("program", {}))]
    events += [enrolled(tenant, a, auto_share=options.get("auto_share", False)) for a in advocates]
    events += [approved(tenant, c) for c in content_ids]
    await publish(kafka, events)

    async def known() -> bool:
        response = await http.get(
            f"/v1/content/{content_ids[-1]}", headers=bearer(tenant, advocates[-1], "advocate")
        )
        return response.status_code == 200

    await eventually(known, timeout=45)
    # Enrolments and the programme reach distribution through its control group.
    await control_caught_up(kafka)


async def control_caught_up(kafka: str) -> None:
    for topic in (ADVOCATE_LIFECYCLE, PROGRAM_CHANGED):
        await eventually(
            lambda name=topic.name: group_caught_up(kafka, control_group("distribution"), name),
            timeout=90,
            interval=0.2,
        )


async def connect(
    http: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    tenant: str,
    advocate: str,
    network: str,
    *,
    expires_in: int | None = None,
) -> dict[str, Any]:
    """The OAuth dance: start, the platform's consent (the simulator), callback."""
    auth = bearer(tenant, advocate, "advocate")
    started = await http.post(
        f"/v1/accounts/{network}/connect",
        headers=auth,
        json={"redirect_uri": "https://app.example/callback"},
    )
    assert started.status_code == 200, started.text
    body = started.json()
    code = f"code-{tenant}-{advocate}-{network}"
    await sim.post(
        "/_sim/tokens", json={"network": network, "user_id": f"{tenant}-{advocate}", "code": code}
    )
    done = await http.post(
        f"/v1/accounts/{network}/callback",
        headers=auth,
        json={"code": code, "state": body["state"]},
    )
    assert done.status_code == 200, done.text
    return dict(done.json())


def links_service_settings(kafka: str, mongo_url: str, journal: Path) -> EngagementSettings:
    """An engagement service in its own database, minting the tracked links
    distribution asks for."""
    return EngagementSettings(
        kafka_bootstrap=kafka,
        mongo_url=mongo_url,
        http_port=0,
        grpc_port=0,
        mongo_database=unique("test_engagement").replace("-", "_"),
        journal_dir=journal,
        instance_id=unique("eng"),
        public_base_url="http://links.test",
    )


async def auto_sharers(
    http: httpx.AsyncClient, sim: httpx.AsyncClient, kafka: str, tenant: str, advocates: list[str]
) -> None:
    """Advocates with a LinkedIn account connected and enrolled with auto-share,
    known to distribution's read model (so an approval fans out to all of them)."""
    slots = asyncio.Semaphore(20)

    async def connect_one(advocate: str) -> None:
        async with slots:
            await connect(http, sim, tenant, advocate, "linkedin")

    await asyncio.gather(*(connect_one(a) for a in advocates))
    await publish(
        kafka, [program(tenant)] + [enrolled(tenant, a, auto_share=True) for a in advocates]
    )
    await control_caught_up(kafka)


class Stack:
    def __init__(
        self, http: httpx.AsyncClient, sim: httpx.AsyncClient, kafka: str, grpc_port: int
    ) -> None:
        self.http = http
        self.sim = sim
        self.kafka = kafka
        self.grpc_port = grpc_port


@contextlib.asynccontextmanager
async def distribution_stack(
    kafka: str, mongo_url: str, simulator_url: str, journal: Path, **settings: Any
) -> AsyncIterator[Stack]:
    """Engagement (for tracked links) and distribution, in this process, on real
    Kafka and MongoDB, posting to the simulator."""
    engagement_settings = links_service_settings(kafka, mongo_url, journal)
    async with running(build_engagement(engagement_settings)) as engagement:
        distribution_settings = DistributionSettings(
            kafka_bootstrap=kafka,
            mongo_url=mongo_url,
            http_port=0,
            grpc_port=0,
            mongo_database=unique("test_distribution").replace("-", "_"),
            engagement_grpc_target=f"127.0.0.1:{engagement.grpc.port}",
            linkedin_api_base_url=simulator_url,
            x_api_base_url=simulator_url,
            platform_timeout_seconds=1.0,
            reconcile_settle_seconds=0.2,
            **settings,
        )
        async with running(build_distribution(distribution_settings)) as service:
            base = f"http://127.0.0.1:{service.bound_http_port}"
            async with (
                # Idle connections are dropped before uvicorn's 5 s keep-alive
                # closes them: reusing one the server is closing is a ReadError.
                httpx.AsyncClient(
                    base_url=base, timeout=15, limits=httpx.Limits(keepalive_expiry=2.0)
                ) as http,
                httpx.AsyncClient(base_url=simulator_url, timeout=15) as sim,
            ):
                yield Stack(http, sim, kafka, service.grpc.port)
        await drop_database(mongo_url, distribution_settings.database_name)
    await drop_database(mongo_url, engagement_settings.database_name)


async def share_status(
    s: Stack, tenant: str, advocate: str, share_id: str, network: str
) -> dict[str, Any]:
    response = await s.http.get(
        f"/v1/shares/{share_id}", headers=bearer(tenant, advocate, "advocate")
    )
    return next(n for n in response.json()["networks"] if n["network"] == network)


async def posted(
    s: Stack, tenant: str, advocate: str, share_id: str, network: str, timeout: float = 45
) -> dict[str, Any]:
    """The network's status once it is final (posted or failed)."""

    async def done() -> dict[str, Any] | None:
        status = await share_status(s, tenant, advocate, share_id, network)
        return status if status["status"] in ("posted", "failed") else None

    return await eventually(done, timeout=timeout)
