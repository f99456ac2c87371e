"""The push side of the metrics: the counts and timings the run's parts report as they happen.

The parts never see this class: each takes a small callable or protocol of its own (the request
budget a status callback, the strategy pool a call observer, the ledger store an append
callback, the tracker a reconcile listener), and the wiring hands them this recorder's methods.
With no registry (`metrics_enabled=false`) only the facts readiness needs are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary

BROKER_STATUSES = ("2xx", "4xx", "429", "5xx", "error")
MINUTE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def broker_status(code: int | None) -> str:
    """The label of one broker answer: its class, 429 on its own, "error" when none came."""
    if code is None:
        return "error"
    if code == 429:
        return "429"
    if code >= 500:
        return "5xx"
    if code >= 400:
        return "4xx"
    return "2xx"  # alpaca-py follows no redirects: anything below 400 is an answer


@dataclass(frozen=True, slots=True)
class BrokerSeen:
    """The broker's last answer (a request or a reconcile): reachable or not, when, what."""

    ok: bool
    at: float
    detail: str


@dataclass(slots=True)
class RunFacts:
    """What readiness looks at: wall times (time.time) of the last outcomes, None if none yet.

    Each field is replaced whole (one atomic assignment), so threads may report freely."""

    started_at: float
    last_minute_at: float | None = None
    last_minute_s: float = 0.0
    reconcile_ok_at: float | None = None
    broker: BrokerSeen | None = None


class RunMetrics:
    """Counters and histograms of one run, registered on its own registry (None: metrics off)."""

    def __init__(
        self,
        registry: CollectorRegistry | None,
        teams: Iterable[str] = (),
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.wall = wall
        self.facts = RunFacts(started_at=wall())
        self._on = registry is not None
        if registry is None:
            return
        self._minutes = Counter(
            "qtc_minutes_processed", "Competition minutes processed.", registry=registry
        )
        self._minute_s = Histogram(
            "qtc_minute_duration_seconds",
            "Real seconds one minute took, bars to the last order sent.",
            buckets=MINUTE_BUCKETS,
            registry=registry,
        )
        self._last_minute = Gauge(
            "qtc_last_minute_timestamp_seconds",
            "Wall time (Unix seconds) the last minute finished.",
            registry=registry,
        )
        self._calls = Summary(
            "qtc_strategy_call_seconds",
            "Real seconds of one strategy call, sandbox round trip included.",
            ["team"],
            registry=registry,
        )
        self._timeouts = Counter(
            "qtc_strategy_timeouts",
            "Strategy calls stopped at the time limit.",
            ["team"],
            registry=registry,
        )
        self._fills = Counter("qtc_fills", "Fills booked in the ledgers.", registry=registry)
        self._append_s = Histogram(
            "qtc_ledger_append_seconds",
            "Real seconds of one durable (fsynced) ledger append.",
            buckets=APPEND_BUCKETS,
            registry=registry,
        )
        self._cycles = Counter(
            "qtc_reconcile_cycles", "Reconciliation cycles (complete or not).", registry=registry
        )
        self._reconcile_s = Histogram(
            "qtc_reconcile_duration_seconds",
            "Real seconds of one reconciliation cycle.",
            buckets=RECONCILE_BUCKETS,
            registry=registry,
        )
        self._reconcile_ok = Gauge(
            "qtc_reconcile_last_success_timestamp_seconds",
            "Wall time (Unix seconds) of the last complete reconciliation.",
            registry=registry,
        )
        self._requests = Counter(
            "qtc_broker_requests",
            "REST requests to the broker by outcome (2xx, 4xx, 429, 5xx, error: no answer).",
            ["status"],
            registry=registry,
        )
        # children made up front: every series exists from the start, so rates and alerts work
        self._by_status = {s: self._requests.labels(s) for s in BROKER_STATUSES}
        self._team_calls: dict[str, Summary] = {}
        self._team_timeouts: dict[str, Counter] = {}
        for team_id in teams:
            self._team(team_id)

    def _team(self, team_id: str) -> tuple[Summary, Counter]:
        calls = self._team_calls.get(team_id)
        if calls is None:
            calls = self._team_calls[team_id] = self._calls.labels(team_id)
            self._team_timeouts[team_id] = self._timeouts.labels(team_id)
        return calls, self._team_timeouts[team_id]

    def run_started(self) -> None:
        """The minute loop starts now (readiness counts a first minute's lateness from here)."""
        self.facts.started_at = self.wall()

    def minute_done(self, seconds: float) -> None:
        """A minute has run, taking `seconds` of real time."""
        at = self.wall()
        self.facts.last_minute_at = at
        self.facts.last_minute_s = seconds
        if self._on:
            self._minutes.inc()
            self._minute_s.observe(seconds)
            self._last_minute.set(at)

    def strategy_call(self, team_id: str, seconds: float, timed_out: bool) -> None:
        """One strategy call came back (or was stopped at the limit) after `seconds`."""
        if self._on:
            calls, timeouts = self._team(team_id)
            calls.observe(seconds)
            if timed_out:
                timeouts.inc()

    def trade_appended(self, seconds: float) -> None:
        """One fill is durable in its team's ledger; the append took `seconds`."""
        if self._on:
            self._fills.inc()
            self._append_s.observe(seconds)

    def reconciled(self, complete: bool, seconds: float) -> None:
        """A reconciliation cycle ended; `complete` when the broker's listing answered."""
        at = self.wall()
        facts = self.facts
        if complete:
            facts.reconcile_ok_at = at
        detail = (
            "the last reconcile listed the open orders"
            if complete
            else ("the last reconcile could not list the open orders")
        )
        facts.broker = BrokerSeen(complete, at, detail)
        if self._on:
            self._cycles.inc()
            self._reconcile_s.observe(seconds)
            if complete:
                self._reconcile_ok.set(at)

    def broker_answered(self, code: int | None) -> None:
        """One REST request to the broker ended with HTTP status `code` (None: no answer).

        Called from the adapter's worker threads: only atomic updates here."""
        status = broker_status(code)
        answer = "no answer" if code is None else f"HTTP {code}"
        self.facts.broker = BrokerSeen(
            status not in ("5xx", "error"), self.wall(), f"the last request got {answer}"
        )
        if self._on:
            self._by_status[status].inc()
