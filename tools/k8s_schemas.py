"""Strict JSON schemas for kubeconform, built from the Kubernetes OpenAPI spec
and from CRD definitions (both taken from Go modules by tools/k8s-check.sh).

Only the kinds the rendered manifests use are written. "Strict" as kubectl
validates: an object with known properties accepts no others, so a typo in
a field name fails the check.

    python tools/k8s_schemas.py --swagger swagger.json --crd a.yaml ... --out DIR manifests.yaml ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]


def kind_file(kind: str, group: str, version: str) -> str:
    """kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json naming."""
    suffix = f"-{group.split('.')[0].lower()}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        result = {key: strict(value) for key, value in node.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref.removeprefix("#/definitions/"))
        for value in node.values():
            references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


def from_swagger(path: Path, wanted: set[str]) -> dict[str, Schema]:
    definitions: dict[str, Schema] = json.loads(path.read_text())["definitions"]
    schemas = {}
    for definition in definitions.values():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            name = kind_file(gvk["kind"], gvk["group"], gvk["version"])
            if name not in wanted:
                continue
            needed: set[str] = set()
            pending = [definition]
            while pending:
                found: set[str] = set()
                references(pending.pop(), found)
                for ref in found - needed:
                    needed.add(ref)
                    pending.append(definitions[ref])
            schemas[name] = {
                **strict(definition),
                "definitions": {ref: strict(definitions[ref]) for ref in sorted(needed)},
            }
    return schemas


def from_crd(path: Path, wanted: set[str]) -> dict[str, Schema]:
    schemas = {}
    for crd in yaml.safe_load_all(path.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec["versions"]:
            name = kind_file(spec["names"]["kind"], spec["group"], version["name"])
            if name in wanted:
                schemas[name] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def kinds_in(manifests: list[Path]) -> set[str]:
    wanted = set()
    for path in manifests:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                group, _, version = doc["apiVersion"].rpartition("/")
                wanted.add(kind_file(doc["kind"], group, version))
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--swagger", type=Path, required=True)
    parser.add_argument("--crd", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("manifests", type=Path, nargs="+")
    args = parser.parse_args()
    wanted = kinds_in(args.manifests)
    schemas = from_swagger(args.swagger, wanted)
    for crd in args.crd:
        schemas |= from_crd(crd, wanted)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (args.out / name).write_text(json.dumps(schema))
    missing = sorted(wanted - set(schemas))
    print(
        f"k8s schemas: {len(schemas)} kinds written"
        + (f"; no schema for {missing}" if missing else "")
    )


if __name__ == "__main__":
    main()
