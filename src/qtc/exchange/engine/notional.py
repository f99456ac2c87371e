"""Notional orders: a dollar amount of a fractionable asset instead of a quantity.

The exchange sizes the order when it accepts it: the quantity the amount buys (or sells) at
the quote then, rounded down to Alpaca's 9 decimals. From there it trades as a market order of
that quantity, and reports both the amount (`notional`) and the quantity it came to. Every
symbol of the simulated universe is fractionable. As on Alpaca: market orders only, `day` for
stocks (`gtc`/`ioc` for crypto), no order classes, at least $1.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from qtc.domain.decimals import decimal_places
from qtc.domain.enums import OrderClass, OrderType, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.pricing import floor_qty, quote

MIN_NOTIONAL = Decimal(1)
_STOCK_TIFS = frozenset({TimeInForce.DAY})
_CRYPTO_TIFS = frozenset({TimeInForce.GTC, TimeInForce.IOC})


def sized(request: OrderRequest, last: Decimal | None, half_spread_bps: Decimal) -> OrderRequest:
    """`request` with the quantity its notional comes to at the quote now; OrderRejected when
    a notional order is not allowed in this shape."""
    amount = request.notional
    assert amount is not None
    symbol = request.symbol
    if not amount.is_finite() or amount < MIN_NOTIONAL:
        raise OrderRejected(f"notional must be at least {MIN_NOTIONAL}")
    if decimal_places(amount) > 2:
        raise OrderRejected("notional must have at most 2 decimal places")
    if request.order_type is not OrderType.MARKET:
        raise OrderRejected("notional orders must be market orders")
    if request.order_class is not OrderClass.SIMPLE:
        raise OrderRejected("notional orders cannot be bracket, oco or oto orders")
    allowed = _CRYPTO_TIFS if is_crypto(symbol) else _STOCK_TIFS
    if request.time_in_force not in allowed:
        raise OrderRejected(
            f"notional orders of {symbol} must be {' or '.join(sorted(allowed))} orders"
        )
    if last is None:
        raise OrderRejected(f"no market price for {symbol} yet")
    qty = floor_qty(amount / quote(symbol, last, request.side, half_spread_bps), whole=False)
    if qty <= 0:
        raise OrderRejected(f"notional {amount} buys nothing of {symbol}")
    return replace(request, qty=qty)
