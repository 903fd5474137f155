"""Who an item is for (pure), shared by content (the feed) and distribution
(auto-share). An empty audience list means "everyone"; matching ignores case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Audience:
    groups: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """What an advocate tells the program about themselves when enrolling."""

    groups: tuple[str, ...] = ()
    department: str = ""
    location: str = ""
    languages: tuple[str, ...] = ()


def _overlaps(wanted: tuple[str, ...], have: Iterable[str]) -> bool:
    if not wanted:
        return True
    have_lower = {value.lower() for value in have}
    return any(value.lower() in have_lower for value in wanted)


def is_targeted(audience: Audience, profile: Profile, token_groups: Iterable[str]) -> bool:
    """Groups come from the token's claims and the enrollment profile together."""
    groups = set(token_groups) | set(profile.groups)
    return (
        _overlaps(audience.groups, groups)
        and _overlaps(audience.departments, [profile.department] if profile.department else [])
        and _overlaps(audience.locations, [profile.location] if profile.location else [])
        and _overlaps(audience.languages, profile.languages)
    )
