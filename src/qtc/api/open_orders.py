"""The hot path: a team's open orders rendered to JSON once per change, then served as bytes."""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable, Sequence

from qtc.domain.orders import Order
from qtc.views.orders import order_view


def _fingerprint(orders: Sequence[Order]) -> tuple[Hashable, ...]:
    # every field of an open order that can change while it stays open
    return tuple(
        (
            o.order_id,
            o.status,
            o.filled_qty,
            o.filled_avg_price,
            o.updated_at,
            o.broker_order_id,
            o.reason,
        )
        for o in orders
    )


class OpenOrdersCache:
    """Per-team JSON bytes of `/orders/open`, re-rendered only when an order changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[Hashable, ...], bytes]] = {}

    def render(self, team_id: str, orders: Sequence[Order]) -> bytes:
        """`{"team_id", "open_orders_count", "orders"}` as JSON bytes."""
        fingerprint = _fingerprint(orders)
        cached = self._cache.get(team_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        body = json.dumps(
            {
                "team_id": team_id,
                "open_orders_count": len(orders),
                "orders": [order_view(o) for o in orders],
            },
            separators=(",", ":"),
        ).encode()
        with self._lock:
            self._cache[team_id] = (fingerprint, body)
        return body
