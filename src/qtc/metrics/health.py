"""Readiness: is the run doing its job? The broker answers, updates arrive, minutes run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qtc.metrics.collector import StreamState
from qtc.metrics.run_metrics import RunFacts

STALE_INTERVALS = 3  # a minute or a reconcile is late after this many of its intervals
MIN_STALE_S = 10.0  # never stricter than this (an accelerated minute is a fraction of a second)


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check: passed or not, and why, in words."""

    ok: bool
    detail: str


class Readiness:
    """The checks of /readyz over what the run last reported."""

    def __init__(
        self,
        facts: RunFacts,
        stream: StreamState,
        *,
        market_open: Callable[[], bool],
        minute_seconds: float,
        reconcile_seconds: Callable[[], float],
        wall: Callable[[], float],
    ) -> None:
        """`minute_seconds` and `reconcile_seconds()` (the wait between two periodic
        reconciles now: it grows with the open orders) are real seconds (a minute of an
        accelerated clock is 60 / speed of them)."""
        self.facts = facts
        self.stream = stream
        self.market_open = market_open
        self.minute_seconds = minute_seconds
        self.reconcile_seconds = reconcile_seconds
        self.wall = wall

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        """(ready, body): the body names every check, and lists the failed ones."""
        now = self.wall()
        checks = {
            "broker": self.broker(),
            "stream": self.updates(now),
            "minutes": self.minutes(now),
        }
        failed = [name for name, check in checks.items() if not check.ok]
        body: dict[str, Any] = {
            "ready": not failed,
            "failed": failed,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }
        return not failed, body

    def broker(self) -> Check:
        """The broker answered the last reconcile or request."""
        seen = self.facts.broker
        if seen is None:
            return Check(False, "the broker has not been reached yet")
        return Check(seen.ok, ("reachable: " if seen.ok else "unreachable: ") + seen.detail)

    def updates(self, now: float) -> Check:
        """Order updates arrive: the stream is connected, or polling works."""
        if self.stream.stream_connected:
            return Check(True, "the update stream is connected")
        ok_at = self.facts.reconcile_ok_at
        if ok_at is None:
            return Check(False, "the update stream is down and no reconcile has completed")
        age = now - ok_at
        limit = max(STALE_INTERVALS * self.reconcile_seconds(), MIN_STALE_S)
        if age <= limit:
            return Check(True, f"the update stream is down; polling works (last {age:.1f}s ago)")
        return Check(
            False,
            f"the update stream is down and the last complete reconcile was {age:.1f}s ago "
            f"(limit {limit:g}s)",
        )

    def minutes(self, now: float) -> Check:
        """The last minute finished recently, unless the market is closed."""
        if not self.market_open():
            return Check(True, "the market is closed: no minute is expected")
        facts = self.facts
        last = facts.last_minute_at
        since = last if last is not None else facts.started_at
        # a minute may take longer than its interval (many teams on a fast clock): allow it
        limit = max(STALE_INTERVALS * self.minute_seconds, MIN_STALE_S) + facts.last_minute_s
        age = now - since
        if age <= limit:
            what = "the last minute finished" if last is not None else "the run started"
            return Check(True, f"{what} {age:.1f}s ago")
        what = "the last minute finished" if last is not None else "no minute has finished; started"
        return Check(False, f"{what} {age:.1f}s ago (limit {limit:g}s)")
