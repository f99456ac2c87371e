"""Builders shared by the domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.orders import Order

T0 = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)


def make_order(
    *,
    side: Side = Side.BUY,
    quantity: str = "10",
    order_type: OrderType = OrderType.MARKET,
    limit_price: str | None = None,
    requested_price: str = "100",
    symbol: str = "AAPL",
    filled_qty: str = "0",
) -> Order:
    """An open order with sensible defaults."""
    return Order(
        order_id="team1-01JD0000000000000000000000",
        team_id="team1",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type,
        time_in_force=TimeInForce.DAY,
        limit_price=Decimal(limit_price) if limit_price is not None else None,
        requested_price=Decimal(requested_price),
        created_at=T0,
        updated_at=T0,
        filled_qty=Decimal(filled_qty),
    )
