"""The run's public status document (`GET /api/v1/status`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def status_view(
    *,
    running: bool,
    market_open: bool,
    last_minute: datetime | None,
    now: datetime,
    broker: str,
    teams: int,
    open_orders: int,
    skipped_count: int,
    skipped_first: datetime | None,
    skipped_last: datetime | None,
    degraded: str | None,
    isolation: Any,
) -> dict[str, Any]:
    """Running, market open, last minute processed, teams, open orders, health."""
    return {
        "running": running,
        "market_open": market_open,
        "last_minute_processed": last_minute.isoformat() if last_minute else None,
        "now": now.isoformat(),
        "broker": broker,
        "teams": teams,
        "open_orders": open_orders,
        "skipped_minutes": skipped_count,
        "skipped_first": skipped_first.isoformat() if skipped_first else None,
        "skipped_last": skipped_last.isoformat() if skipped_last else None,
        "degraded": degraded is not None,
        "degraded_reason": degraded,
        "isolation": isolation,
    }
