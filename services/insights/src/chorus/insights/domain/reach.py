"""Potential reach: how many people the period's shares could have been seen
by. It is the sum, over every advocate and network they shared to, of the
advocate's audience there, taken from the best source known:

1. the platform, where its API reports it (X followers; LinkedIn 1st-degree
   connections where the app is admitted to that API);
2. the size the advocate declared when enrolling;
3. the field's reference average, marked as an estimate: an average US
   internet user has about 200 Facebook friends and 61 X followers.

LinkedIn has no reference average, so a LinkedIn audience from neither source
is left out of the sum and counted as unmeasured, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

REFERENCE_AUDIENCE: Mapping[str, int] = {"facebook": 200, "x": 61}


@dataclass(frozen=True)
class Audiences:
    """What is known of one advocate's audiences, by network."""

    platform: Mapping[str, int]
    declared: Mapping[str, int]


@dataclass(frozen=True)
class Reach:
    total: int = 0
    # How much of the total came from each source.
    from_platform: int = 0
    declared: int = 0
    estimated: int = 0
    # (advocate, network) pairs that shared but whose audience is unknown.
    unmeasured: int = 0

    @property
    def estimated_share(self) -> float | None:
        """The fraction of the total that is the reference estimate."""
        return self.estimated / self.total if self.total else None


@dataclass
class AudienceSums:
    """One network's sharers' audiences, summed by the best source known of
    each: the platform's figure, else the declared one, else none (counted)."""

    from_platform: int = 0
    declared: int = 0
    unknown: int = 0


def reach_of(sums: Mapping[str, AudienceSums]) -> Reach:
    """The reach of those sums: an unknown audience counts the network's
    reference average as an estimate, or is unmeasured where it has none."""
    from_platform = declared = estimated = unmeasured = 0
    for network, found in sums.items():
        from_platform += found.from_platform
        declared += found.declared
        if network in REFERENCE_AUDIENCE:
            estimated += REFERENCE_AUDIENCE[network] * found.unknown
        else:
            unmeasured += found.unknown
    return Reach(
        from_platform + declared + estimated, from_platform, declared, estimated, unmeasured
    )


def potential_reach(sharers: Iterable[tuple[str, str]], known: Mapping[str, Audiences]) -> Reach:
    """Reach of the (advocate, network) pairs that shared."""
    sums: dict[str, AudienceSums] = {}
    nobody = Audiences({}, {})
    for advocate, network in sharers:
        audiences, found = known.get(advocate, nobody), sums.setdefault(network, AudienceSums())
        if network in audiences.platform:
            found.from_platform += audiences.platform[network]
        elif network in audiences.declared:
            found.declared += audiences.declared[network]
        else:
            found.unknown += 1
    return reach_of(sums)
