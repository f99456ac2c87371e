"""An order as teams see it: API, live events, strategies and the files alike."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderClass
from qtc.domain.orders import Order
from qtc.domain.times import iso
from qtc.views.money import price

_exact: Callable[[Decimal | None], str | None] = dec_str


def order_view(order: Order, *, exact: bool = False) -> dict[str, Any]:
    """The order's fields, times as UTC ISO-8601, decimals as strings: prices to the
    symbol's tick for people and strategies, exact (`exact=True`) for the files."""
    show = _exact if exact else partial(price, order.symbol)
    return {
        "order_id": order.order_id,
        "team_id": order.team_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": dec_str(order.quantity),
        "order_type": order.order_type.value,
        "limit_price": show(order.limit_price),
        "status": order.status.value,
        "filled_qty": dec_str(order.filled_qty),
        "filled_avg_price": show(order.filled_avg_price),
        "time_in_force": order.time_in_force.value,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
        "requested_price": show(order.requested_price),
        "broker_order_id": order.broker_order_id,
        "reason": order.reason,
        "extra": order.extra,
        **({"broker_status": order.broker_status} if order.broker_status is not None else {}),
        **(_shape(order, show) if _has_shape(order) else {}),
    }


def _has_shape(order: Order) -> bool:
    return not (
        order.stop_price is None
        and order.trail_price is None
        and order.trail_percent is None
        and order.order_class is OrderClass.SIMPLE
        and order.parent_id is None
        and order.replaces is None
        and order.replaced_by is None
        and order.notional is None
    )


def _shape(order: Order, show: Callable[[Decimal | None], str | None]) -> dict[str, Any]:
    """The fields only stop, trailing-stop and linked orders have (left out of the others, so
    that a market or limit order reads as it always did)."""
    fields = {
        "stop_price": show(order.stop_price),
        "trail_price": show(order.trail_price),
        "trail_percent": dec_str(order.trail_percent),
        "order_class": None if order.order_class is OrderClass.SIMPLE else order.order_class.value,
        "take_profit_limit_price": show(order.take_profit_limit_price),
        "stop_loss_stop_price": show(order.stop_loss_stop_price),
        "stop_loss_limit_price": show(order.stop_loss_limit_price),
        "parent_id": order.parent_id,
        "replaces": order.replaces,
        "replaced_by": order.replaced_by,
        "notional": dec_str(order.notional),
    }
    return {k: v for k, v in fields.items() if v is not None}
