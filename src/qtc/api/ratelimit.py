"""Per-key token buckets: a steady `per_minute` rate with bursts up to a minute's worth."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Buckets of idle keys are dropped once this many are held, so memory stays bounded.
_MAX_BUCKETS = 100_000


class RateLimiter:
    """`hit(key)` spends one token; when none is left it says how long until one is."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def hit(self, key: str) -> float | None:
        """None if allowed; otherwise the seconds to wait before the next request."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return None
            self._store(key, tokens, now)
            return (1.0 - tokens) / self._rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= _MAX_BUCKETS:
            self._prune(now)
        self._buckets[key] = (tokens, now)

    def _prune(self, now: float) -> None:
        full = [
            k
            for k, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._rate >= self._capacity
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= _MAX_BUCKETS:
            self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    """Retry-After is whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
