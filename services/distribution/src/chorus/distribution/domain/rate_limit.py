"""Posting budgets (pure; the clock is passed in), modelled as the platforms
state them: at most N requests in any window of W seconds (X: 300 posts per
3 h per user; LinkedIn: 150 per day per member), one budget per network for
the app and one per network and advocate. A 429 blocks a budget until the
reset time the platform gave."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class SlidingWindow:
    limit: int
    seconds: float
    hits: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0

    def wait_time(self, now: float) -> float:
        """Seconds until one more request fits (0: now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()
        if len(self.hits) < self.limit:
            return 0.0
        return self.hits[0] + self.seconds - now

    def take(self, now: float) -> bool:
        if self.wait_time(now) > 0:
            return False
        self.hits.append(now)
        return True

    def block_until(self, reset_at: float) -> None:
        self.blocked_until = max(self.blocked_until, reset_at)


@dataclass(frozen=True)
class Budget:
    requests: int
    seconds: float

    def window(self) -> SlidingWindow:
        return SlidingWindow(self.requests, self.seconds)


class Limiter:
    """The app-wide and per-advocate budgets of one network."""

    def __init__(self, app: Budget, per_advocate: Budget) -> None:
        self._app = app.window()
        self._advocate_budget = per_advocate
        self._advocates: dict[str, SlidingWindow] = {}

    def _mine(self, advocate: str) -> SlidingWindow:
        window = self._advocates.get(advocate)
        if window is None:
            window = self._advocates[advocate] = self._advocate_budget.window()
        return window

    def wait_time(self, advocate: str, now: float) -> float:
        return max(self._app.wait_time(now), self._mine(advocate).wait_time(now))

    def take(self, advocate: str, now: float) -> bool:
        if self.wait_time(advocate, now) > 0:
            return False
        return self._app.take(now) and self._mine(advocate).take(now)

    def backoff(self, advocate: str, reset_at: float, app_wide: bool) -> None:
        if app_wide:
            self._app.block_until(reset_at)
        self._mine(advocate).block_until(reset_at)
