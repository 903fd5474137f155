"""Charts drawn on the server as SVG (no script, so the CSP stays strict and
the page reads without JavaScript): a Lorenz curve beside the line of
equality, and bars per day or week. Coordinates only: the template draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 320, 200, 24


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def lorenz_points(curve: Sequence[Sequence[float]]) -> str:
    """The curve's points ((share of contributors, share of engagement), from
    0 to 1) as an SVG polyline's points attribute."""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    return " ".join(f"{PAD + x * inner_w:.1f},{HEIGHT - PAD - y * inner_h:.1f}" for x, y in curve)


def equality_line() -> str:
    return lorenz_points([(0.0, 0.0), (1.0, 1.0)])


def bars(values: Sequence[tuple[str, int]]) -> list[Bar]:
    """One bar per (label, value), scaled to the tallest."""
    if not values:
        return []
    tallest = max(max(value for _, value in values), 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / len(values)
    found = []
    for index, (label, value) in enumerate(values):
        height = inner_h * value / tallest
        found.append(
            Bar(
                PAD + index * step + step * 0.1,
                HEIGHT - PAD - height,
                step * 0.8,
                height,
                label,
                value,
            )
        )
    return found
