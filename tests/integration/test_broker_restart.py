"""The producer survives a broker restart without losing (or duplicating) an
acknowledged event. Restarts the local stack's broker: needs `make stack-up`."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from chorus.contracts.content.v1.events_pb2 import ContentApproved
from chorus.kit.metrics import Metrics
from chorus.kit.producer import EventProducer
from chorus.kit.topics import CONTENT_APPROVED
from chorus_testing import read_topic

STACK = Path(__file__).parents[2] / "deploy" / "local" / "stack.sh"


async def test_acknowledged_events_survive_a_broker_restart(
    kafka_bootstrap: str, fresh_topic: Any
) -> None:
    topic = await fresh_topic(CONTENT_APPROVED, partitions=3)
    producer = EventProducer(
        kafka_bootstrap, source="/test", metrics=Metrics(), client_id="restart-test"
    )
    await producer.start()
    acknowledged: list[str] = []
    failed: list[str] = []
    restarted = asyncio.Event()

    async def pump() -> None:
        index = 0
        # Keep publishing until some events were acknowledged after the restart.
        while not restarted.is_set() or len(acknowledged) < after_restart_target():
            event_id = f"event-{index}"
            try:
                await producer.publish(
                    topic,
                    f"acme:{index % 7}",
                    ContentApproved(tenant="acme", content_id=str(index)),
                    event_id=event_id,
                )
                acknowledged.append(event_id)
            except Exception:
                failed.append(event_id)
            index += 1
            await asyncio.sleep(0.01)

    before_restart = 0

    def after_restart_target() -> int:
        return before_restart + 50

    task = asyncio.create_task(pump())
    try:
        while len(acknowledged) < 50:
            await asyncio.sleep(0.05)
        restart = await asyncio.create_subprocess_exec(
            "bash", str(STACK), "restart-kafka", stdout=subprocess.DEVNULL
        )
        assert await restart.wait() == 0, "restarting the broker failed"
        before_restart = len(acknowledged)
        restarted.set()
        await asyncio.wait_for(task, 120)
    finally:
        task.cancel()
        await producer.stop()

    records = await read_topic(kafka_bootstrap, topic.name, expect=len(acknowledged), timeout=60)
    on_topic = [dict(r.headers)["ce_id"].decode() for r in records]
    assert set(acknowledged) <= set(on_topic), "an acknowledged event was lost"
    assert len(on_topic) == len(set(on_topic)), "an event was written twice"
    assert len(acknowledged) >= before_restart + 50
