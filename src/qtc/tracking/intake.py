"""Turning a team's order intent into a tracked order: affordability first, then the record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from qtc.domain.decimals import ZERO, dec_str
from qtc.domain.enums import Side
from qtc.domain.errors import InvalidSignal
from qtc.domain.ids import new_order_id
from qtc.domain.orders import Order, OrderRequest
from qtc.domain.portfolio import (
    Portfolio,
    Reservations,
    buy_reserve_price,
    free_cash,
    free_shares,
)
from qtc.domain.signals import OrderIntent, intent_record


def check_affordable(
    intent: OrderIntent,
    portfolio: Portfolio,
    reserved: Reservations,
    prices: Mapping[str, Decimal],
    market_margin: Decimal,
) -> None:
    """Raise InvalidSignal unless what is free (after what open orders reserve) covers it."""
    what = f"{intent.side.value} {dec_str(intent.quantity)} {intent.symbol}"
    signal = intent_record(intent)
    if intent.side is Side.BUY:
        last = prices.get(intent.symbol, intent.requested_price)
        price = buy_reserve_price(intent, last, market_margin)
        # a notional buy spends its amount, never more
        cost = intent.quantity * price if intent.notional is None else intent.notional
        available = free_cash(portfolio, reserved)
        if cost > available:
            raise InvalidSignal(
                f"insufficient free cash to {what}: needs {cost:.2f}, free {available:.2f} "
                f"(cash {portfolio.cash:.2f}, {reserved.cash:.2f} reserved by open orders)",
                signal,
            )
        return
    shares = free_shares(portfolio, reserved, intent.symbol)
    if intent.quantity > shares:
        raise InvalidSignal(
            f"insufficient free shares to {what}: {dec_str(shares)} free "
            f"({dec_str(portfolio.quantity(intent.symbol))} held, "
            f"{dec_str(reserved.shares.get(intent.symbol, ZERO))} reserved by open orders)",
            signal,
        )


def new_order(team_id: str, intent: OrderIntent, now: datetime) -> Order:
    """A fresh `pending_new` order with a new id (sent to the broker as client_order_id)."""
    return Order(
        order_id=new_order_id(team_id, int(now.timestamp() * 1000)),
        team_id=team_id,
        symbol=intent.symbol,
        side=intent.side,
        quantity=intent.quantity,
        order_type=intent.order_type,
        time_in_force=intent.time_in_force,
        limit_price=intent.limit_price,
        requested_price=intent.requested_price,
        created_at=now,
        updated_at=now,
        extra=dict(intent.extra),
        stop_price=intent.stop_price,
        trail_price=intent.trail_price,
        trail_percent=intent.trail_percent,
        order_class=intent.order_class,
        take_profit_limit_price=intent.take_profit_limit_price,
        stop_loss_stop_price=intent.stop_loss_stop_price,
        stop_loss_limit_price=intent.stop_loss_limit_price,
        notional=intent.notional,
    )


def order_request(order: Order) -> OrderRequest:
    """What the broker is asked to open for `order`."""
    return OrderRequest(
        client_order_id=order.order_id,
        symbol=order.symbol,
        side=order.side,
        qty=order.quantity,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        trail_price=order.trail_price,
        trail_percent=order.trail_percent,
        order_class=order.order_class,
        take_profit_limit_price=order.take_profit_limit_price,
        stop_loss_stop_price=order.stop_loss_stop_price,
        stop_loss_limit_price=order.stop_loss_limit_price,
        notional=order.notional,
    )
