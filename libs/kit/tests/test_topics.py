import asyncio
import importlib
from pathlib import Path

import pytest
from pydantic import ValidationError

import chorus.contracts
from chorus.kit.admin import delete_namespace, topic_specs
from chorus.kit.settings import ServiceSettings
from chorus.kit.topics import (
    ALL_TOPICS,
    CONSUMER_GROUPS,
    ENGAGEMENT_OBSERVED,
    SHARE_PERFORMED,
    by_name,
    dead_letter_topic,
)


def event_messages() -> set[str]:
    """Every message declared in an events.proto of the contracts."""
    names = set()
    for root in chorus.contracts.__path__:  # a namespace package: walk its files
        for path in [
            *Path(root).glob("*/v1/events_pb2.py"),
            *Path(root).glob("*/v1/journal_pb2.py"),
        ]:
            module = f"chorus.contracts.{path.parent.parent.name}.v1.{path.stem}"
            descriptor = importlib.import_module(module).DESCRIPTOR
            names |= {m.full_name for m in descriptor.message_types_by_name.values()}
    assert names, "no events.proto found under chorus.contracts"
    return names


def test_every_event_message_has_exactly_one_topic_and_back() -> None:
    types = [topic.event_type for topic in ALL_TOPICS]
    assert len(types) == len(set(types))
    assert set(types) == event_messages()


def test_the_fixed_topic_names_of_the_design_exist() -> None:
    for name in ("content.approved", "share.performed", "engagement.observed"):
        assert by_name(name).name == name


def test_advocate_topics_are_co_partitioned() -> None:
    advocate_keyed = [t for t in ALL_TOPICS if t.key == "<tenant>:<advocate>"]
    assert SHARE_PERFORMED in advocate_keyed and ENGAGEMENT_OBSERVED in advocate_keyed
    assert len({t.partitions for t in advocate_keyed}) == 1


def test_each_consumer_group_has_a_dead_letter_topic_that_gets_created() -> None:
    created = {spec.name for spec in topic_specs()}
    for group in CONSUMER_GROUPS:
        assert dead_letter_topic(group) == f"dlq.{group}"
        assert dead_letter_topic(group) in created
    assert {t.name for t in ALL_TOPICS} <= created


def test_a_namespace_names_every_topic_and_dead_letter_topic_with_its_prefix() -> None:
    plain = {spec.name for spec in topic_specs()}
    spaced = {spec.name for spec in topic_specs("bench-1.")}
    assert spaced == {f"bench-1.{name}" for name in plain}


@pytest.mark.parametrize("prefix", ["", "bench-1", "Bench.", "a.b.", "."])
def test_deleting_refuses_anything_but_a_namespace(prefix: str) -> None:
    with pytest.raises(ValueError, match="not a namespace"):
        asyncio.run(delete_namespace("127.0.0.1:1", prefix))


def test_the_settings_refuse_a_prefix_that_is_not_a_namespace() -> None:
    assert ServiceSettings(topic_prefix="bench-1.").topic_prefix == "bench-1."
    with pytest.raises(ValidationError):
        ServiceSettings(topic_prefix="share")
