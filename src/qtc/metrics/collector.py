"""The scrape side of the metrics: values read from the run's state when Prometheus asks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from qtc.metrics.run_metrics import RunMetrics


class StreamState(Protocol):
    """What a broker says of its update stream: up now, and how often it has connected."""

    @property
    def stream_connected(self) -> bool: ...

    @property
    def stream_connects(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RunState:
    """Where the scrape-time values come from; every callable is cheap and never blocks."""

    orders_by_status: Callable[[], Mapping[str, int]]
    open_orders: Callable[[], int]
    sse_subscribers: Callable[[], int]
    stream: StreamState
    data_dir: Path


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding `folder`."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


class RunStateCollector(Collector):
    """Orders by status, open orders, SSE subscribers, the stream, disk free, reconcile lag.

    Runs on the event loop (the API's /metrics route is async), so it reads the tracker's
    dictionaries without racing the code that changes them."""

    def __init__(self, state: RunState, recorder: RunMetrics) -> None:
        self.state = state
        self.recorder = recorder

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing to check at registration: the names are fixed here

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self.state
        orders = GaugeMetricFamily(
            "qtc_orders", "Orders the tracker holds in memory, by status.", labels=["status"]
        )
        for status, count in sorted(state.orders_by_status().items()):
            orders.add_metric([status], count)
        yield orders
        yield GaugeMetricFamily(
            "qtc_open_orders", "Open orders of every team.", value=state.open_orders()
        )
        yield GaugeMetricFamily(
            "qtc_sse_subscribers",
            "Open server-sent event streams of the team API.",
            value=state.sse_subscribers(),
        )
        stream = state.stream
        yield GaugeMetricFamily(
            "qtc_stream_connected",
            "1 while the broker's update stream is connected, else 0.",
            value=1 if stream.stream_connected else 0,
        )
        yield CounterMetricFamily(
            "qtc_stream_reconnects",
            "Reconnects of the broker's update stream (connects after the first).",
            value=max(stream.stream_connects - 1, 0),
        )
        try:
            disk = float(free_bytes(state.data_dir))
        except OSError:
            disk = float("nan")  # the folder is gone: say so rather than fail the scrape
        yield GaugeMetricFamily(
            "qtc_data_dir_free_bytes", "Free bytes on the data directory's file system.", disk
        )
        facts = self.recorder.facts
        since = facts.reconcile_ok_at if facts.reconcile_ok_at is not None else facts.started_at
        yield GaugeMetricFamily(
            "qtc_reconcile_lag_seconds",
            "Seconds since the last complete reconciliation (since the start, before one).",
            value=max(self.recorder.wall() - since, 0.0),
        )
