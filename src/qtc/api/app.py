"""The FastAPI app factory: everything the API reads is injected, nothing is global."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from qtc.api.access import AccessLogMiddleware
from qtc.api.board import Board, SnapshotSource
from qtc.api.errors import install_error_handlers
from qtc.api.fast_path import OpenOrdersFastPath
from qtc.api.keys import KeyStore
from qtc.api.open_orders import OpenOrdersCache
from qtc.api.pages import install_pages
from qtc.api.ratelimit import RateLimiter
from qtc.api.routes import account, health, orders, public, strategy
from qtc.api.schemas import DECIMAL_NOTE, TIME_NOTE, ErrorOut
from qtc.api.state import ApiState
from qtc.api.upload_gate import UploadGate
from qtc.tracking.ports import TrackerView
from qtc.uploads.service import StrategyDesk
from qtc.views.leaderboard import leaderboard_view

DESCRIPTION = f"""
Each team manages its orders while the competition runs. Team routes need the team's key, as
the `X-API-Key` header or the `key` query parameter.

* Decimals: {DECIMAL_NOTE}
* Times: {TIME_NOTE}
* Errors are JSON `{{"detail": "..."}}`: 401 missing or wrong key, 403 another team's key,
  404 unknown order (another team's order answers the same), 409 cancel of a closed order
  (with its `status`), 422 malformed parameters, 429 rate limited (see `Retry-After`).
"""

_TEAM_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong API key."},
    403: {"model": ErrorOut, "description": "The key belongs to another team."},
    404: {"model": ErrorOut, "description": "No such order (or team) for this team."},
    422: {"model": ErrorOut, "description": "A malformed parameter; `detail` says which."},
    429: {"model": ErrorOut, "description": "Rate limited; retry after `Retry-After` seconds."},
}
_PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    500: {"model": ErrorOut, "description": "Internal error (details are only logged)."},
}


def _no_prices() -> Mapping[str, Decimal]:
    return {}


def create_app(
    tracker: TrackerView,
    keys: KeyStore,
    *,
    status: Callable[[], dict[str, Any]] | None = None,
    leaderboard: Callable[[], list[dict[str, Any]]] | None = None,
    rate_limit_per_minute: int = 600,
    prices: Callable[[], Mapping[str, Decimal]] | None = None,
    sse_heartbeat_seconds: float = 15.0,
    readiness: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
    metrics: CollectorRegistry | None = None,
    snapshots: SnapshotSource | None = None,
    board_minute: Callable[[], object] | None = None,
    desk: StrategyDesk | None = None,
    upload_rate_limit_per_minute: int = 4,
) -> FastAPI:
    """Build the team API over a live tracker; `status`/`leaderboard`/`prices` are optional,
    and so are `readiness` (the /readyz checks) and `metrics` (the registry /metrics serves).

    The leaderboard's metrics and curves read `snapshots` (the store; None: none) again when
    `board_minute()` changes (the last minute processed; None: at every request). `desk`
    serves strategy uploads (None: not served)."""
    price_source = prices or _no_prices
    app = FastAPI(
        title="QTC team API",
        version="1.0",
        description=DESCRIPTION,
        responses=_PUBLIC_ERRORS,
        docs_url=None,  # served by install_pages from the package's own Swagger UI files
        redoc_url=None,
    )
    state = ApiState(
        tracker=tracker,
        keys=keys,
        limiter=RateLimiter(rate_limit_per_minute),
        status=status or (lambda: default_status(tracker)),
        leaderboard=leaderboard or (lambda: leaderboard_view(tracker, price_source())),
        prices=price_source,
        open_orders=OpenOrdersCache(),
        sse_heartbeat_seconds=sse_heartbeat_seconds,
        readiness=readiness or health.no_checks,
        metrics=metrics,
        board=Board(tracker, snapshots, board_minute or object),
        upload_limiter=RateLimiter(upload_rate_limit_per_minute),
        desk=desk,
    )
    app.state.qtc = state
    install_error_handlers(app)
    app.add_middleware(OpenOrdersFastPath, state=state)
    app.add_middleware(UploadGate, state=state)
    app.add_middleware(AccessLogMiddleware)  # added last: outermost, so it sees every request
    app.include_router(orders.router, responses=_TEAM_ERRORS)
    app.include_router(account.router, responses=_TEAM_ERRORS)
    app.include_router(account.whoami_router, responses=_TEAM_ERRORS)
    app.include_router(strategy.router, responses=_TEAM_ERRORS)
    app.include_router(public.router)
    app.include_router(health.router)
    install_pages(app)
    return app


def default_status(tracker: TrackerView) -> dict[str, Any]:
    """Status when the orchestrator gives none: teams and open orders from the tracker."""
    teams = tracker.team_ids()
    return {
        "running": True,
        "teams": len(teams),
        "open_orders": sum(len(tracker.open_orders(t)) for t in teams),
    }
