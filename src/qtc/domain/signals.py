"""Turning what a strategy returns into order or cancel intents, each problem clearly named."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import Kind, NotANumber, bounded_decimal, dec_str, decimal_places
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal
from qtc.domain.market import is_crypto

MAX_QTY_DECIMALS = 9
CRYPTO_TIME_IN_FORCE = frozenset({TimeInForce.GTC, TimeInForce.IOC})
_SIGNAL_ORDER_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})
_SIGNAL_TIFS = frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
_KNOWN_KEYS = frozenset(
    {"symbol", "action", "quantity", "price", "order_type", "time_in_force", "order_id"}
)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A validated request from a team to open an order."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    requested_price: Decimal
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelIntent:
    """A validated request from a team to cancel one of its orders."""

    order_id: str


Intent = OrderIntent | CancelIntent


def intent_record(intent: Intent) -> dict[str, Any]:
    """An intent as the signal it came from (for error lines), decimals as exact strings."""
    if isinstance(intent, CancelIntent):
        return {"action": "cancel", "order_id": intent.order_id}
    return {
        "symbol": intent.symbol,
        "action": intent.side.value,
        "quantity": dec_str(intent.quantity),
        "price": dec_str(intent.requested_price),
        "order_type": intent.order_type.value,
        "time_in_force": intent.time_in_force.value,
    }


def normalize_signals(output: Any) -> list[Any]:
    """A strategy may return one signal, a list of them, or None."""
    if output is None:
        return []
    if isinstance(output, list | tuple):
        return list(output)
    return [output]


def _number(signal: Mapping[str, Any], key: Kind) -> Decimal:
    try:
        return bounded_decimal(signal[key], key)
    except NotANumber as e:
        raise InvalidSignal(str(e), _printable(signal)) from e


def _choice(signal: Mapping[str, Any], key: str, enum: Any, default: Any) -> Any:
    raw = signal.get(key, default)
    if raw is None:
        raw = default
    try:
        return enum(str(raw).lower())
    except ValueError as e:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidSignal(f"unknown {key} {raw!r} (expected one of {allowed})", signal) from e


def validate_signal(
    signal: Any,
    universe: Collection[str],
    current_prices: Mapping[str, Decimal] | None = None,
) -> Intent:
    """Check one signal and return its intent, or raise InvalidSignal saying what is wrong.

    A market order without a price takes the symbol's current price as its requested price.
    """
    if not isinstance(signal, Mapping):
        raise InvalidSignal(
            f"a signal must be a dict, got {type(signal).__name__}", _printable(signal)
        )
    action = signal.get("action")
    if isinstance(action, str) and action.lower() == "cancel":
        order_id = signal.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidSignal("cancel needs an order_id string", dict(signal))
        return CancelIntent(order_id=order_id)
    if not isinstance(action, str) or action.lower() not in ("buy", "sell"):
        raise InvalidSignal(f"action must be 'buy', 'sell' or 'cancel', got {action!r}", signal)
    side = Side(action.lower())

    symbol = signal.get("symbol")
    if not isinstance(symbol, str) or symbol not in universe:
        raise InvalidSignal(f"unknown symbol {symbol!r}", dict(signal))

    if "quantity" not in signal:
        raise InvalidSignal("quantity is missing", dict(signal))
    quantity = _number(signal, "quantity")
    if decimal_places(quantity) > MAX_QTY_DECIMALS:
        raise InvalidSignal(
            f"quantity {quantity} has more than {MAX_QTY_DECIMALS} decimals", dict(signal)
        )

    order_type = _choice(signal, "order_type", OrderType, OrderType.MARKET.value)
    if order_type not in _SIGNAL_ORDER_TYPES:
        raise InvalidSignal(f"order_type {order_type.value} is not traded yet", dict(signal))
    default_tif = TimeInForce.GTC.value if is_crypto(symbol) else TimeInForce.DAY.value
    tif = _choice(signal, "time_in_force", TimeInForce, default_tif)
    if tif not in _SIGNAL_TIFS:
        raise InvalidSignal(f"time_in_force {tif.value} is not traded yet", dict(signal))
    if is_crypto(symbol) and tif not in CRYPTO_TIME_IN_FORCE:
        raise InvalidSignal(
            f"crypto {symbol} trades with time_in_force gtc or ioc, not {tif.value}", dict(signal)
        )

    if signal.get("price") is None:
        if order_type is OrderType.LIMIT:
            raise InvalidSignal("a limit order needs a price", dict(signal))
        if current_prices is None or symbol not in current_prices:
            raise InvalidSignal(f"price is missing and {symbol} has no current price", dict(signal))
        price = current_prices[symbol]
    else:
        price = _number(signal, "price")
    if price <= 0:
        raise InvalidSignal(f"price must be positive, got {price}", dict(signal))
    try:
        bounded_decimal(quantity * price, "notional")
    except NotANumber as e:
        raise InvalidSignal(f"{e} ({dec_str(quantity)} x {dec_str(price)})", dict(signal)) from e

    extra = {k: _printable(v) for k, v in signal.items() if k not in _KNOWN_KEYS}
    return OrderIntent(
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        time_in_force=tif,
        limit_price=price if order_type is OrderType.LIMIT else None,
        requested_price=price,
        extra=extra,
    )


def _printable(value: Any) -> Any:
    """Keep JSON-friendly values as they are; anything else becomes its (bounded) repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else value[:500]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k)[:100]: _printable(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in list(value)[:50]]
    return repr(value)[:500]
