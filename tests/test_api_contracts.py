"""What every service's OpenAPI promises a client, checked on the documents
the services serve: every string a client sends is bounded, every operation
has its own id and documents its validation problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chorus.content.main import ContentSettings
from chorus.content.main import build as build_content
from chorus.distribution.main import DistributionSettings
from chorus.distribution.main import build as build_distribution
from chorus.engagement.main import EngagementSettings
from chorus.engagement.main import build as build_engagement
from chorus.gamification.main import GamificationSettings
from chorus.gamification.main import build as build_gamification
from chorus.insights.main import InsightsSettings
from chorus.insights.main import build as build_insights
from chorus.kit.runtime import ServiceRuntime

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Strings whose format bounds them: the parser refuses anything long.
BOUNDED_FORMATS = {"date-time", "date", "uuid"}
OPERATIONS = ("get", "put", "post", "delete", "patch", "head")


def openapi_of(name: str, tmp_path: Path) -> dict[str, Any]:
    builds: dict[str, Callable[[], ServiceRuntime]] = {
        "content": lambda: build_content(ContentSettings()),
        "distribution": lambda: build_distribution(DistributionSettings()),
        "engagement": lambda: build_engagement(EngagementSettings(journal_dir=tmp_path)),
        "gamification": lambda: build_gamification(GamificationSettings(role="api")),
        "insights": lambda: build_insights(InsightsSettings()),
    }
    document: dict[str, Any] = builds[name]().http_app.openapi()
    return document


SERVICES = ("content", "distribution", "engagement", "gamification", "insights")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def unbounded(document: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    """Every place in `schema` a client could send an unbounded string, list or map."""
    seen: set[int] = set()

    def walk(node: dict[str, Any], at: str) -> Iterator[str]:
        node = resolve(document, node)
        if id(node) in seen:
            return
        seen.add(id(node))
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, ()):
                yield from walk(option, at)
        kind = node.get("type")
        if (
            kind == "string"
            and not ("maxLength" in node or "enum" in node or "const" in node)
            and node.get("format") not in BOUNDED_FORMATS
        ):
            yield at
        if kind == "array":
            if "maxItems" not in node:
                yield f"{at}[] (no maxItems)"
            yield from walk(node.get("items", {}), f"{at}[]")
        if kind == "object" or "properties" in node:
            for name, child in node.get("properties", {}).items():
                yield from walk(child, f"{at}.{name}")
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                if "maxProperties" not in node:
                    yield f"{at}{{}} (no maxProperties)"
                yield from walk(extra, f"{at}{{}}")
                names = resolve(document, node.get("propertyNames", {}))
                if "maxLength" not in names and "enum" not in names:
                    yield f"{at}{{}} (unbounded keys)"

    yield from walk(schema, where)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in OPERATIONS:
            if method in item:
                yield path, method, item[method]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_string_a_client_sends_is_bounded(service: str, tmp_path: Path) -> None:
    document = openapi_of(service, tmp_path)
    found: list[str] = []
    for path, method, operation in operations(document):
        here = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", ()):
            where = f"{here} {parameter['in']} {parameter['name']}"
            found.extend(unbounded(document, parameter.get("schema", {}), where))
        for media in operation.get("requestBody", {}).get("content", {}).values():
            found.extend(unbounded(document, media.get("schema", {}), f"{here} body"))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("service", SERVICES)
async def test_operations_have_their_own_ids_and_document_their_problems(
    service: str, tmp_path: Path
) -> None:
    document = openapi_of(service, tmp_path)
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    takes_input = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(document)
        if (operation.get("parameters") or operation.get("requestBody"))
        and "422" not in operation["responses"]
    ]
    assert takes_input == [], "\n".join(takes_input)
