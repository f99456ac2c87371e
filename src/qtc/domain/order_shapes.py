"""Which order types, classes and times in force go together, as Alpaca allows them.

A signal's order shape is its type (`market`, `limit`, `stop`, `stop_limit`, `trailing_stop`),
its prices (`price` is the limit price, `stop_price` the trigger, `trail_price` or
`trail_percent` the trail), its time in force and its class (`simple`, or `bracket`, `oco`,
`oto` with `take_profit: {"limit_price"}` and `stop_loss: {"stop_price", "limit_price"?}`).
The rules are Alpaca's: crypto trades `market`, `limit` and `stop_limit` with `gtc` or `ioc`,
and no order classes; `opg`/`cls` are for equity `market` and `limit` orders; `ioc`/`fok` for
`market` and `limit`; a trailing stop is `day` or `gtc`; a bracket's entry is `market` or
`limit`, `day` or `gtc`, and its take-profit lies beyond its stop-loss on the winning side; an
OCO is a pair of exits (a `limit` take-profit and a stop-loss) with no entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import NotANumber, bounded_decimal, dec_str
from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal
from qtc.domain.market import is_crypto

CRYPTO_TIME_IN_FORCE = frozenset({TimeInForce.GTC, TimeInForce.IOC})
CRYPTO_ORDER_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT})
_PRICED = frozenset({OrderType.MARKET, OrderType.LIMIT})
_AUCTION = frozenset({TimeInForce.OPG, TimeInForce.CLS})
_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})
_RESTING = frozenset({TimeInForce.DAY, TimeInForce.GTC})
SHAPE_KEYS = frozenset(
    {
        "stop_price",
        "trail_price",
        "trail_percent",
        "order_class",
        "take_profit",
        "stop_loss",
        "notional",
    }
)


@dataclass(frozen=True, slots=True)
class OrderShape:
    """An order's type, prices, time in force and class, checked together."""

    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit_limit_price: Decimal | None = None
    stop_loss_stop_price: Decimal | None = None
    stop_loss_limit_price: Decimal | None = None


def price_of(raw: Any, name: str, signal: Mapping[str, Any]) -> Decimal:
    """A positive price read from a signal, or InvalidSignal naming the field."""
    try:
        value = bounded_decimal(raw, "price")
    except NotANumber as e:
        message = str(e)  # it names the kind, "price": say which field
        if name != "price":
            message = name + message.removeprefix("price")
        raise InvalidSignal(message, dict(signal)) from e
    if value <= 0:
        raise InvalidSignal(f"{name} must be positive, got {dec_str(value)}", dict(signal))
    return value


def _optional_price(signal: Mapping[str, Any], key: str) -> Decimal | None:
    raw = signal.get(key)
    return None if raw is None else price_of(raw, key, signal)


def _leg(signal: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    raw = signal.get(key)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidSignal(f"{key} must be a dict like {{'limit_price': ...}}", dict(signal))
    return raw


def read_shape(
    signal: Mapping[str, Any],
    symbol: str,
    side: Side,
    order_type: OrderType,
    time_in_force: TimeInForce,
    order_class: OrderClass,
) -> OrderShape:
    """The signal's order shape, or InvalidSignal saying which rule it breaks."""
    raw_limit = signal.get("price") if order_type.has_limit else None
    take_profit = _leg(signal, "take_profit")
    stop_loss = _leg(signal, "stop_loss")
    limit = None if raw_limit is None else price_of(raw_limit, "price", signal)
    take_profit_limit = _nested_price(signal, take_profit, "take_profit", "limit_price")
    if order_class is OrderClass.OCO and limit is None:
        limit = take_profit_limit  # Alpaca's OCO carries its limit in take_profit
    shape = OrderShape(
        order_type=order_type,
        time_in_force=time_in_force,
        limit_price=limit,
        stop_price=_optional_price(signal, "stop_price"),
        trail_price=_optional_price(signal, "trail_price"),
        trail_percent=_optional_price(signal, "trail_percent"),
        order_class=order_class,
        take_profit_limit_price=take_profit_limit,
        stop_loss_stop_price=_nested_price(signal, stop_loss, "stop_loss", "stop_price"),
        stop_loss_limit_price=_nested_price(signal, stop_loss, "stop_loss", "limit_price"),
    )
    problem = shape_problem(shape, symbol, side)
    if problem is not None:
        raise InvalidSignal(problem, dict(signal))
    return shape


def _nested_price(
    signal: Mapping[str, Any], leg: Mapping[str, Any] | None, leg_name: str, key: str
) -> Decimal | None:
    if leg is None or leg.get(key) is None:
        return None
    return price_of(leg[key], f"{leg_name}.{key}", signal)


def shape_problem(shape: OrderShape, symbol: str, side: Side) -> str | None:
    """What is wrong with the shape under Alpaca's rules, None when it may be sent."""
    kind, tif = shape.order_type, shape.time_in_force
    if kind.has_limit and shape.limit_price is None:
        return f"a {kind.value} order needs a price"
    if kind.has_stop and shape.stop_price is None:
        return f"a {kind.value} order needs a stop_price"
    if not kind.has_stop and kind is not OrderType.TRAILING_STOP and shape.stop_price is not None:
        return f"a {kind.value} order takes no stop_price"
    trails = (shape.trail_price is not None) + (shape.trail_percent is not None)
    if kind is OrderType.TRAILING_STOP:
        if trails != 1:
            return "a trailing_stop order needs exactly one of trail_price or trail_percent"
        if shape.trail_percent is not None and shape.trail_percent >= 100:
            return "trail_percent must be below 100"
        if tif not in _RESTING:
            return f"a trailing_stop order is day or gtc, not {tif.value}"
    elif trails:
        return f"a {kind.value} order takes no trail_price or trail_percent"
    if is_crypto(symbol):
        if tif not in CRYPTO_TIME_IN_FORCE:
            return f"crypto {symbol} trades with time_in_force gtc or ioc, not {tif.value}"
        if kind not in CRYPTO_ORDER_TYPES:
            return f"crypto {symbol} trades market, limit or stop_limit orders, not {kind.value}"
        if shape.order_class is not OrderClass.SIMPLE:
            return f"crypto {symbol} takes simple orders only, not {shape.order_class.value}"
    if tif in _AUCTION and kind not in _PRICED:
        return f"time_in_force {tif.value} is for market and limit orders, not {kind.value}"
    if tif in _IMMEDIATE and kind not in _PRICED:
        return f"time_in_force {tif.value} is for market and limit orders, not {kind.value}"
    return _class_problem(shape, side)


def _class_problem(shape: OrderShape, side: Side) -> str | None:
    cls = shape.order_class
    has_tp = shape.take_profit_limit_price is not None
    has_sl = shape.stop_loss_stop_price is not None
    if cls is OrderClass.SIMPLE:
        if has_tp or has_sl or shape.stop_loss_limit_price is not None:
            return "take_profit and stop_loss need order_class bracket, oco or oto"
        return None
    if shape.stop_loss_limit_price is not None and not has_sl:
        return "stop_loss needs a stop_price"
    if cls is OrderClass.OCO:
        if shape.order_type is not OrderType.LIMIT:
            return "an oco order is a limit order (its take-profit) with a stop_loss"
    elif shape.order_type not in _PRICED:
        return f"a {cls.value} order's entry is a market or limit order"
    if shape.time_in_force not in _RESTING:
        return f"a {cls.value} order is day or gtc, not {shape.time_in_force.value}"
    if cls is OrderClass.OTO:
        if has_tp == has_sl:
            return "an oto order needs exactly one of take_profit or stop_loss"
        return None
    if not (has_tp and has_sl):
        return f"a {cls.value} order needs take_profit.limit_price and stop_loss.stop_price"
    take_profit, stop = shape.take_profit_limit_price, shape.stop_loss_stop_price
    assert take_profit is not None and stop is not None
    # the exits close the position: above and below for a long one, the reverse for a short
    exit_side = side if cls is OrderClass.OCO else (Side.SELL if side is Side.BUY else Side.BUY)
    if exit_side is Side.SELL and take_profit <= stop:
        return (
            f"take_profit.limit_price {dec_str(take_profit)} must be above "
            f"stop_loss.stop_price {dec_str(stop)}"
        )
    if exit_side is Side.BUY and take_profit >= stop:
        return (
            f"take_profit.limit_price {dec_str(take_profit)} must be below "
            f"stop_loss.stop_price {dec_str(stop)}"
        )
    return None


def notional_problem(
    order_type: OrderType, tif: TimeInForce, order_class: OrderClass, symbol: str
) -> str | None:
    """What keeps an order from being sized by `notional` (a dollar amount), as on Alpaca:
    market orders only, `day` for stocks and `gtc`/`ioc` for crypto, no order classes."""
    if order_type is not OrderType.MARKET:
        return f"a notional order is a market order, not {order_type.value}"
    if order_class is not OrderClass.SIMPLE:
        return f"a notional order cannot be {order_class.value}"
    if is_crypto(symbol):
        return None if tif in CRYPTO_TIME_IN_FORCE else "crypto trades gtc or ioc"
    return (
        None if tif is TimeInForce.DAY else f"a notional order of {symbol} is day, not {tif.value}"
    )
