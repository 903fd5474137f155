"""Metric polling never counts anything twice across a restart: a second
engagement process on the same database continues the schedule and emits only
what is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from chorus.contracts.common.v1.common_pb2 import NETWORK_X, SHARE_MODE_API
from chorus.contracts.distribution.v1.events_pb2 import SharePerformed
from chorus.contracts.engagement.v1.events_pb2 import ENGAGEMENT_KIND_REACTION, EngagementObserved
from chorus.engagement.main import EngagementSettings, build
from chorus.kit.topics import ENGAGEMENT_OBSERVED, SHARE_PERFORMED
from chorus_testing import drop_database, end_offsets, publish, read_topic, running, unique


@pytest.mark.asyncio(loop_scope="session")
async def test_a_restarted_poller_emits_only_new_deltas(
    kafka_bootstrap: str, mongo_url: str, simulator_url: str, tmp_path: Path
) -> None:
    tenant = unique("acme")
    key = f"{tenant}:bob".encode()
    async with httpx.AsyncClient(base_url=simulator_url) as sim:
        app_token = (
            await sim.post(
                "/_sim/tokens",
                json={
                    "network": "x",
                    "user_id": "chorus-app",
                    "scopes": ["tweet.read"],
                    "expires_in": 86400,
                },
            )
        ).json()["token"]
        user_token = (
            await sim.post("/_sim/tokens", json={"network": "x", "user_id": "u-bob"})
        ).json()["token"]
        tweet = (
            await sim.post(
                "/2/tweets",
                json={"text": "Proud! https://l.test/r/x"},
                headers={"Authorization": f"Bearer {user_token}"},
            )
        ).json()
        tweet_id = tweet["data"]["id"]
        await sim.post(f"/_sim/posts/{tweet_id}/metrics", json={"reaction": 3})
        settings = EngagementSettings(
            kafka_bootstrap=kafka_bootstrap,
            mongo_url=mongo_url,
            http_port=0,
            grpc_port=0,
            mongo_database=unique("test_polling").replace("-", "_"),
            journal_dir=tmp_path,
            instance_id=unique("eng"),
            poll_interval_seconds=0.3,
            x_api_base_url=simulator_url,
            x_app_bearer_token=app_token,
        )
        since = await end_offsets(kafka_bootstrap, ENGAGEMENT_OBSERVED.name)
        performed = Timestamp()
        # The first poll (after 1 h) is due at once, the second (after 6 h) in 20 s.
        performed.FromDatetime(datetime.now(UTC) - timedelta(hours=6) + timedelta(seconds=20))

        def reactions(records: list[object]) -> list[int]:
            events = [EngagementObserved.FromString(r.value) for r in records]  # type: ignore[attr-defined]
            return [e.delta for e in events if e.kind == ENGAGEMENT_KIND_REACTION]

        try:
            async with running(build(settings)):
                await publish(
                    kafka_bootstrap,
                    [
                        (
                            SHARE_PERFORMED,
                            f"{tenant}:bob",
                            SharePerformed(
                                tenant=tenant,
                                advocate="bob",
                                share_id="s-1",
                                content_id="c-1",
                                network=NETWORK_X,
                                mode=SHARE_MODE_API,
                                post_ref=tweet_id,
                                performed_at=performed,
                            ),
                        )
                    ],
                )
                first = await read_topic(
                    kafka_bootstrap,
                    ENGAGEMENT_OBSERVED.name,
                    expect=1,
                    since=since,
                    where=lambda r: r.key == key,
                )
                assert reactions(first) == [3]
            # A new process on the same database: the schedule goes on, nothing repeats.
            async with running(build(settings)):
                again = await read_topic(
                    kafka_bootstrap,
                    ENGAGEMENT_OBSERVED.name,
                    expect=2,
                    since=since,
                    timeout=3,
                    where=lambda r: r.key == key,
                )
                assert reactions(again) == [3]
                await sim.post(f"/_sim/posts/{tweet_id}/metrics", json={"reaction": 5})
                later = await read_topic(
                    kafka_bootstrap,
                    ENGAGEMENT_OBSERVED.name,
                    expect=2,
                    since=since,
                    where=lambda r: r.key == key,
                )
                assert reactions(later) == [3, 2]
        finally:
            await drop_database(mongo_url, settings.database_name)
