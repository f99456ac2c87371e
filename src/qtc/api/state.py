"""What the app's routes are given at construction: tracker, keys, limiter and callables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry

from qtc.api.board import Board
from qtc.api.keys import KeyStore
from qtc.api.open_orders import OpenOrdersCache
from qtc.api.ratelimit import RateLimiter
from qtc.tracking.ports import TrackerView
from qtc.uploads.service import StrategyDesk


@dataclass(frozen=True, slots=True)
class ApiState:
    """Everything a request may use; held on `app.state.qtc`, never in a module global."""

    tracker: TrackerView
    keys: KeyStore
    limiter: RateLimiter
    status: Callable[[], dict[str, Any]]
    leaderboard: Callable[[], list[dict[str, Any]]]
    prices: Callable[[], Mapping[str, Decimal]]
    open_orders: OpenOrdersCache
    sse_heartbeat_seconds: float
    readiness: Callable[[], tuple[bool, dict[str, Any]]]
    metrics: CollectorRegistry | None  # None: metrics are off
    board: Board  # the leaderboard's metrics and equity curves
    upload_limiter: RateLimiter  # a stricter bucket per team for strategy uploads
    desk: StrategyDesk | None = None  # None: uploads are not served (qtc serve)
