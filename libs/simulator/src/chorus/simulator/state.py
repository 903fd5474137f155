"""The simulator's state: tokens, posts, metrics, rate limits and faults (pure)."""

from __future__ import annotations

import itertools
import json
import random
import time
import zlib
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Token:
    network: str  # "linkedin" or "x"
    user_id: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False


@dataclass
class Post:
    network: str
    post_id: str
    user_id: str
    text: str
    link: str
    body: dict[str, Any]
    created_at: float
    deleted: bool = False
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass
class Fault:
    """Injected on the next `remaining` matching requests (or with `ratio`)."""

    network: str
    kind: str  # "429", "500", "slow", "drop_after_accept"
    remaining: int = 1
    ratio: float = 0.0
    seconds: float = 30.0


@dataclass
class Window:
    """A sliding-window rate limit: `limit` requests per `seconds`."""

    limit: int
    seconds: float
    hits: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> tuple[bool, int, float]:
        """(allowed, remaining, reset_at)."""
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()
        reset_at = (self.hits[0] + self.seconds) if self.hits else now + self.seconds
        if len(self.hits) >= self.limit:
            return False, 0, reset_at
        self.hits.append(now)
        return True, self.limit - len(self.hits), reset_at


@dataclass
class SimulatorState:
    tokens: dict[str, Token] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    # (network, scope) -> (limit, seconds); scope "user" or "app"
    limits: dict[tuple[str, str], tuple[int, float]] = field(
        default_factory=lambda: {
            ("x", "user"): (300, 3 * 3600.0),
            ("x", "app"): (10_000, 24 * 3600.0),
            ("linkedin", "user"): (150, 24 * 3600.0),
            ("linkedin", "app"): (100_000, 24 * 3600.0),
        }
    )
    windows: dict[tuple[str, str, str], Window] = field(default_factory=dict)
    posts_received: int = 0
    codes: dict[str, tuple[str, str, frozenset[str]]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, frozenset[str]]] = field(default_factory=dict)
    # "network:user_id" -> followers (X) or 1st-degree connections (LinkedIn)
    audiences: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_000))

    def next_id(self) -> str:
        return str(next(self._ids))

    def check_rate(self, network: str, user_id: str, now: float) -> tuple[bool, int, int, float]:
        """(allowed, limit, remaining, reset_at) across the user and app windows."""
        result = (True, 0, 0, now)
        for scope, key in (("app", "*"), ("user", user_id)):
            limit, seconds = self.limits[(network, scope)]
            window = self.windows.setdefault((network, scope, key), Window(limit, seconds))
            window.limit, window.seconds = limit, seconds
            allowed, remaining, reset_at = window.take(now)
            if not allowed:
                return False, limit, 0, reset_at
            if scope == "user":
                result = (True, limit, remaining, reset_at)
        return result

    def audience(self, network: str, user_id: str) -> int:
        """A member's audience as a test set it, else a stable size drawn from the id."""
        key = f"{network}:{user_id}"
        return self.audiences.get(key, 50 + zlib.crc32(key.encode()) % 950)

    def take_fault(self, network: str, kinds: tuple[str, ...]) -> Fault | None:
        for fault in self.faults:
            if fault.network not in (network, "*") or fault.kind not in kinds:
                continue
            if fault.ratio:
                return fault if random.random() < fault.ratio else None
            if fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    def save(self, path: Path) -> None:
        """Members' tokens and posts, so that a restarted simulator (`make run`
        again) still knows the accounts Chorus connected."""
        data = {
            "tokens": {
                key: asdict(token) | {"scopes": sorted(token.scopes)}
                for key, token in self.tokens.items()
            },
            "refresh_tokens": {
                key: [network, user, sorted(scopes)]
                for key, (network, user, scopes) in self.refresh_tokens.items()
            },
            "posts": {key: asdict(post) for key, post in self.posts.items()},
            "posts_received": self.posts_received,
            "audiences": self.audiences,
            "next_id": next(self._ids),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> SimulatorState:
        state = cls()
        if not path.exists():
            return state
        data = json.loads(path.read_text())
        state.tokens = {
            key: Token(**(value | {"scopes": frozenset(value["scopes"])}))
            for key, value in data["tokens"].items()
        }
        state.refresh_tokens = {
            key: (network, user, frozenset(scopes))
            for key, (network, user, scopes) in data["refresh_tokens"].items()
        }
        state.posts = {key: Post(**value) for key, value in data["posts"].items()}
        state.posts_received = data["posts_received"]
        state.audiences = data.get("audiences", {})
        state._ids = itertools.count(data["next_id"])
        return state

    def live_posts(self, network: str | None = None) -> list[Post]:
        return [
            p
            for p in self.posts.values()
            if not p.deleted and (network is None or p.network == network)
        ]


def now() -> float:
    return time.time()
