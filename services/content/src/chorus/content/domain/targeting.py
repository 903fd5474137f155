"""Who an item is for (pure). An empty audience list means "everyone"."""

from __future__ import annotations

from collections.abc import Iterable

from chorus.content.domain.model import Audience, Profile


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
