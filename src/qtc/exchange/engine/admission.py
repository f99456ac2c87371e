"""The checks an order must pass on its own before the exchange looks at the account."""

from __future__ import annotations

from collections.abc import Container
from decimal import Decimal

from qtc.domain.decimals import decimal_places
from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.pricing import CENT, MAX_QTY_DECIMALS, on_tick

MAX_CLIENT_ORDER_ID = 128
CRYPTO_TIFS = frozenset({TimeInForce.GTC, TimeInForce.IOC})
CRYPTO_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT})
AUCTION_TIFS = frozenset({TimeInForce.OPG, TimeInForce.CLS})
IMMEDIATE_TIFS = frozenset({TimeInForce.IOC, TimeInForce.FOK})
SIMPLE_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})
GROUP_TIFS = frozenset({TimeInForce.DAY, TimeInForce.GTC})


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
    _check_type_and_tif(request)
    _check_prices(request)
    _check_class(request)


def _check_type_and_tif(request: OrderRequest) -> None:
    kind, tif = request.order_type, request.time_in_force
    if is_crypto(request.symbol):
        if tif not in CRYPTO_TIFS:
            raise OrderRejected(f"invalid crypto time_in_force {tif}")
        if kind not in CRYPTO_TYPES:
            raise OrderRejected(f"invalid crypto order type {kind}")
    if tif in AUCTION_TIFS and kind not in SIMPLE_TYPES:
        raise OrderRejected(f"{tif} orders must be market or limit orders")
    if tif in IMMEDIATE_TIFS and kind not in SIMPLE_TYPES:
        raise OrderRejected(f"{tif} orders must be market or limit orders")
    if kind is OrderType.TRAILING_STOP and tif not in GROUP_TIFS:
        raise OrderRejected("trailing_stop orders must be day or gtc")


def _check_price(symbol: str, name: str, price: Decimal | None, kind: str) -> Decimal:
    if price is None:
        raise OrderRejected(f"{name} is required for {kind} orders")
    if not price.is_finite() or price <= 0:
        raise OrderRejected(f"{name} must be > 0")
    if not on_tick(symbol, price):
        raise OrderRejected(
            f"invalid {name} {price}. sub-penny increment does not fulfill minimum pricing criteria"
        )
    return price


def _check_prices(request: OrderRequest) -> None:
    symbol, kind = request.symbol, request.order_type
    if kind.has_limit:
        _check_price(symbol, "limit_price", request.limit_price, kind.value)
    if kind.has_stop:
        _check_price(symbol, "stop_price", request.stop_price, kind.value)
    if kind is OrderType.TRAILING_STOP:
        given = [t for t in (request.trail_price, request.trail_percent) if t is not None]
        if len(given) != 1:
            raise OrderRejected("exactly one of trail_price or trail_percent is required")
        if not given[0].is_finite() or given[0] <= 0:
            name = "trail_price" if request.trail_price is not None else "trail_percent"
            raise OrderRejected(f"{name} must be > 0")
        if request.trail_percent is not None and request.trail_percent >= 100:
            raise OrderRejected("trail_percent must be < 100")


def _check_class(request: OrderRequest) -> None:
    order_class = request.order_class
    if order_class is OrderClass.SIMPLE:
        return
    if is_crypto(request.symbol):
        raise OrderRejected(f"{order_class} orders are not supported for crypto")
    if request.time_in_force not in GROUP_TIFS:
        raise OrderRejected(f"{order_class} orders must be day or gtc")
    take_profit, stop_loss = request.take_profit_limit_price, request.stop_loss_stop_price
    if order_class is OrderClass.OCO:
        if request.order_type is not OrderType.LIMIT:
            raise OrderRejected("oco orders must be limit orders")
        if stop_loss is None:
            raise OrderRejected("oco orders require stop_loss")
        take_profit = request.limit_price
    elif request.order_type not in SIMPLE_TYPES:
        raise OrderRejected(f"{order_class} orders must be market or limit orders")
    if order_class is OrderClass.BRACKET:
        if take_profit is None:
            raise OrderRejected("bracket orders require take_profit.limit_price")
        if stop_loss is None:
            raise OrderRejected("bracket orders require stop_loss.stop_price")
    if order_class is OrderClass.OTO and (take_profit is None) == (stop_loss is None):
        raise OrderRejected("oto orders require exactly one of take_profit or stop_loss")
    if take_profit is not None:
        _check_price(request.symbol, "take_profit.limit_price", take_profit, order_class.value)
    if stop_loss is not None:
        _check_price(request.symbol, "stop_loss.stop_price", stop_loss, order_class.value)
    if request.stop_loss_limit_price is not None:
        _check_price(
            request.symbol, "stop_loss.limit_price", request.stop_loss_limit_price, "stop_limit"
        )
    if take_profit is not None and stop_loss is not None:
        # the exits sell (for a buy entry) above and below the market
        exit_sells = (request.side is Side.BUY) != (order_class is OrderClass.OCO)
        if exit_sells and take_profit <= stop_loss:
            raise OrderRejected(
                "take_profit.limit_price must be > stop_loss.stop_price for a buy entry"
                if order_class is not OrderClass.OCO
                else "limit_price must be > stop_loss.stop_price for a sell oco order"
            )
        if not exit_sells and take_profit >= stop_loss:
            raise OrderRejected(
                "take_profit.limit_price must be < stop_loss.stop_price for a sell entry"
                if order_class is not OrderClass.OCO
                else "limit_price must be < stop_loss.stop_price for a buy oco order"
            )


def check_base_price(request: OrderRequest, last: Decimal | None) -> None:
    """Refuse a bracket or oto whose exits are not on the right side of the entry's price (its
    limit, else the last price): take-profit beyond it, stop-loss short of it by a cent."""
    if request.order_class not in (OrderClass.BRACKET, OrderClass.OTO):
        return
    base = request.limit_price if request.order_type is OrderType.LIMIT else last
    if base is None:
        return
    take_profit, stop_loss = request.take_profit_limit_price, request.stop_loss_stop_price
    buy = request.side is Side.BUY
    low, high = base - CENT, base + CENT
    if take_profit is not None and (take_profit < high if buy else take_profit > low):
        sign = ">= base_price +" if buy else "<= base_price -"
        raise OrderRejected(f"take_profit.limit_price must be {sign} 0.01")
    if stop_loss is not None and (stop_loss > low if buy else stop_loss < high):
        sign = "<= base_price -" if buy else ">= base_price +"
        raise OrderRejected(f"stop_loss.stop_price must be {sign} 0.01")
