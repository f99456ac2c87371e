"""Counts the REST requests each API key made, and the most it made in any 60 seconds."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 60.0


@dataclass
class _KeyStats:
    total: int = 0
    max_per_minute: int = 0
    recent: deque[float] = field(default_factory=deque)
    per_endpoint: Counter[str] = field(default_factory=Counter)


class RequestStats:
    """Sliding-window request counter per key; wall time by default (rate limits are real
    time even when the market clock is simulated), injectable for tests."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._keys: dict[str, _KeyStats] = {}

    def record(self, key: str, endpoint: str) -> int:
        """Count one request; return how many this key made in the last 60 s (this one too)."""
        stats = self._keys.setdefault(key, _KeyStats())
        at = self._now()
        stats.total += 1
        stats.per_endpoint[endpoint] += 1
        stats.recent.append(at)
        while stats.recent and stats.recent[0] <= at - WINDOW_SECONDS:
            stats.recent.popleft()
        stats.max_per_minute = max(stats.max_per_minute, len(stats.recent))
        return len(stats.recent)

    def in_last_minute(self, key: str) -> int:
        """Requests this key made in the last 60 s."""
        stats = self._keys.get(key)
        if stats is None:
            return 0
        at = self._now()
        return sum(1 for t in stats.recent if t > at - WINDOW_SECONDS)

    def reset(self) -> None:
        """Forget every count."""
        self._keys.clear()

    def snapshot(self) -> dict[str, Any]:
        """The JSON of `GET /qtc/stats`: totals over all keys, then per key."""
        per_endpoint: Counter[str] = Counter()
        for stats in self._keys.values():
            per_endpoint.update(stats.per_endpoint)
        return {
            "requests_total": sum(s.total for s in self._keys.values()),
            "max_requests_per_minute": max(
                (s.max_per_minute for s in self._keys.values()), default=0
            ),
            "per_endpoint": dict(sorted(per_endpoint.items())),
            "per_key": {
                key: {
                    "requests_total": s.total,
                    "max_requests_per_minute": s.max_per_minute,
                    "requests_last_minute": self.in_last_minute(key),
                    "per_endpoint": dict(sorted(s.per_endpoint.items())),
                }
                for key, s in sorted(self._keys.items())
            },
        }
