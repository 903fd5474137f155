"""What every form page reads the same way: the posted fields, a
comma-separated list, a datetime-local field (UTC, as the forms say)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from chorus.hub.adapters.api import ApiProblem


async def posted(request: Request) -> dict[str, str]:
    """The form's text fields (no uploads here)."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def decimal(text: str, empty: float | None = None) -> float:
    """A number as people type it (a decimal comma too); `empty` for a blank
    field, when blank has a meaning. Anything else is -1, which the APIs
    refuse beside the field, with their own words."""
    if empty is not None and not text.strip():
        return empty
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return -1.0


def moment(text: str) -> str | None:
    """A datetime-local field's value (UTC) as ISO 8601."""
    return f"{text}:00Z" if text else None


def local(iso: str | None) -> str:
    """An ISO 8601 moment as a datetime-local field shows it."""
    return (iso or "")[:16]


def by_field(problem: ApiProblem, field_of: Callable[[list[str]], str]) -> dict[str, list[str]]:
    """The API's violations under the form's field names; `field_of` maps a
    violation's path ("networks.x.cpm" as parts) to one, or to "_" for none."""
    errors: dict[str, list[str]] = {}
    for violation in problem.violations:
        path = str(violation.get("field", "")).removeprefix("body.").split(".")
        errors.setdefault(field_of(path), []).append(str(violation.get("message", "")))
    return errors
