"""Bounded retries with exponential backoff and jitter (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    jitter: float = 0.2  # +/- this fraction of the delay

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def should_retry(self, attempt: int) -> bool:
        """After failed attempt number `attempt` (1-based), may we try again?"""
        return attempt < self.max_attempts

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        raw = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        spread: float = self.jitter * (2 * rand() - 1)
        return max(0.0, raw * (1 + spread))
