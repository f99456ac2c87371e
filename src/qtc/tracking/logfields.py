"""The fields a log line about one order carries (the JSON log shows them as their own keys)."""

from __future__ import annotations

from qtc.domain.orders import Order


def about(order: Order) -> dict[str, str]:
    """`extra=` for a log call about `order`: its team and order id."""
    return {"team": order.team_id, "order_id": order.order_id}
