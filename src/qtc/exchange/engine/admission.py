"""The checks an order must pass on its own before the exchange looks at the account."""

from __future__ import annotations

from collections.abc import Container

from qtc.domain.decimals import decimal_places
from qtc.domain.enums import OrderType, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.pricing import MAX_QTY_DECIMALS, on_tick

MAX_CLIENT_ORDER_ID = 128
CRYPTO_TIFS = frozenset({TimeInForce.GTC, TimeInForce.IOC})


def check_request(request: OrderRequest, client_order_id: str, symbols: Container[str]) -> None:
    """Raise OrderRejected(reason) when the order is malformed, as Alpaca would refuse it."""
    symbol = request.symbol
    if symbol not in symbols:
        raise OrderRejected(f"asset {symbol} not found")
    if len(client_order_id) > MAX_CLIENT_ORDER_ID:
        raise OrderRejected(f"client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")
    if not request.qty.is_finite() or request.qty <= 0:
        raise OrderRejected("qty must be > 0")
    if decimal_places(request.qty) > MAX_QTY_DECIMALS:
        raise OrderRejected(f"qty must have at most {MAX_QTY_DECIMALS} decimal places")
    if is_crypto(symbol) and request.time_in_force not in CRYPTO_TIFS:
        raise OrderRejected(f"invalid crypto time_in_force {request.time_in_force}")
    if request.order_type is OrderType.LIMIT:
        price = request.limit_price
        if price is None:
            raise OrderRejected("limit_price is required for limit orders")
        if not price.is_finite() or price <= 0:
            raise OrderRejected("limit_price must be > 0")
        if not on_tick(symbol, price):
            raise OrderRejected(
                f"invalid limit_price {price}. sub-penny increment does not fulfill "
                "minimum pricing criteria"
            )
