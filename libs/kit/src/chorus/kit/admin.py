"""Creates the project's topics explicitly (the broker's auto-creation is off)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from chorus.kit.topics import (
    ALL_TOPICS,
    CONSUMER_GROUPS,
    DEAD_LETTER_RETENTION_MS,
    dead_letter_topic,
)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    compacted: bool = False


def topic_specs() -> list[TopicSpec]:
    specs = [TopicSpec(t.name, t.partitions, t.retention_ms, t.compacted) for t in ALL_TOPICS]
    specs += [
        TopicSpec(dead_letter_topic(group), 1, DEAD_LETTER_RETENTION_MS)
        for group in CONSUMER_GROUPS
    ]
    return specs


async def ensure_topics(
    bootstrap: str, specs: list[TopicSpec] | None = None, replication_factor: int = 1
) -> list[str]:
    """Create the topics that are missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chorus-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in (specs or topic_specs()) if spec.name not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                spec.name,
                spec.partitions,
                replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)}
                | ({"cleanup.policy": "compact"} if spec.compacted else {}),
            )
            for spec in missing
        ]
        response = await admin.create_topics(new)
        created = []
        for name, code, message in getattr(response, "topic_errors", []):
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"could not create topic {name}: {message} (error {code})")
            if code == 0:
                created.append(name)
        return created
    finally:
        await admin.close()
