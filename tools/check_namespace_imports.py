"""Every `chorus.<package>` a distribution imports is its own or a declared
dependency. The distributions share the `chorus` namespace package, so deptry
(which checks the third-party imports, in `make lint`) sees them all as one.

    python tools/check_namespace_imports.py    # exits 1 and names each undeclared import
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def declared(pyproject: Path) -> tuple[str, set[str]]:
    """The distribution's name and the names of what it depends on."""
    project = tomllib.loads(pyproject.read_text())["project"]
    names = {re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    return project["name"], names


def imported_packages(source: Path) -> dict[str, str]:
    """Each `chorus.<package>` imported under `source`, with one place it is."""
    found: dict[str, str] = {}
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "chorus" and len(parts) > 1:
                    found.setdefault(parts[1], f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def main() -> int:
    problems = []
    for pyproject in sorted(
        [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]
    ):
        name, dependencies = declared(pyproject)
        own = name.removeprefix("chorus-")
        for package, where in imported_packages(pyproject.parent / "src").items():
            if package != own and f"chorus-{package}" not in dependencies:
                problems.append(
                    f"{where}: {name} imports chorus.{package} without declaring chorus-{package}"
                )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
