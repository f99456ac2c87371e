"""Turning what a strategy returns into order or cancel intents, each problem clearly named."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from qtc.domain.decimals import Kind, NotANumber, bounded_decimal, dec_str, decimal_places
from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal
from qtc.domain.market import is_crypto
from qtc.domain.order_shapes import SHAPE_KEYS, notional_problem, price_of, read_shape

MAX_QTY_DECIMALS = 9
_KNOWN_KEYS = (
    frozenset({"symbol", "action", "quantity", "price", "order_type", "time_in_force", "order_id"})
    | SHAPE_KEYS
)
_REPLACE_KEYS = frozenset(
    {"action", "order_id", "quantity", "price", "stop_price", "trail", "time_in_force"}
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
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit_limit_price: Decimal | None = None
    stop_loss_stop_price: Decimal | None = None
    stop_loss_limit_price: Decimal | None = None
    notional: Decimal | None = None  # a dollar amount: `quantity` is then an estimate


@dataclass(frozen=True, slots=True)
class CancelIntent:
    """A validated request from a team to cancel one of its orders."""

    order_id: str


@dataclass(frozen=True, slots=True)
class ReplaceIntent:
    """A validated request to replace an open order: None keeps the old value."""

    order_id: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail: Decimal | None = None
    time_in_force: TimeInForce | None = None


Intent = OrderIntent | CancelIntent | ReplaceIntent


def intent_record(intent: Intent) -> dict[str, Any]:
    """An intent as the signal it came from (for error lines), decimals as exact strings."""
    if isinstance(intent, CancelIntent):
        return {"action": "cancel", "order_id": intent.order_id}
    if isinstance(intent, ReplaceIntent):
        changes = {
            "quantity": dec_str(intent.quantity),
            "price": dec_str(intent.limit_price),
            "stop_price": dec_str(intent.stop_price),
            "trail": dec_str(intent.trail),
            "time_in_force": intent.time_in_force.value if intent.time_in_force else None,
        }
        given = {k: v for k, v in changes.items() if v is not None}
        return {"action": "replace", "order_id": intent.order_id, **given}
    record = {
        "symbol": intent.symbol,
        "action": intent.side.value,
        "quantity": dec_str(intent.quantity),
        "price": dec_str(intent.requested_price),
        "order_type": intent.order_type.value,
        "time_in_force": intent.time_in_force.value,
    }
    optional = {
        "notional": dec_str(intent.notional),
        "stop_price": dec_str(intent.stop_price),
        "trail_price": dec_str(intent.trail_price),
        "trail_percent": dec_str(intent.trail_percent),
    }
    record.update({k: v for k, v in optional.items() if v is not None})
    if intent.order_class is not OrderClass.SIMPLE:
        record["order_class"] = intent.order_class.value
    return record


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
    if isinstance(action, str) and action.lower() in ("cancel", "replace"):
        order_id = signal.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise InvalidSignal(f"{action.lower()} needs an order_id string", dict(signal))
        if action.lower() == "cancel":
            return CancelIntent(order_id=order_id)
        return _replace_intent(signal, order_id)
    if not isinstance(action, str) or action.lower() not in ("buy", "sell"):
        raise InvalidSignal(
            f"action must be 'buy', 'sell', 'cancel' or 'replace', got {action!r}", signal
        )
    side = Side(action.lower())

    symbol = signal.get("symbol")
    if not isinstance(symbol, str) or symbol not in universe:
        raise InvalidSignal(f"unknown symbol {symbol!r}", dict(signal))

    notional = _notional(signal)
    if notional is None:
        if "quantity" not in signal:
            raise InvalidSignal("quantity is missing", dict(signal))
        quantity = _number(signal, "quantity")
        if decimal_places(quantity) > MAX_QTY_DECIMALS:
            raise InvalidSignal(
                f"quantity {quantity} has more than {MAX_QTY_DECIMALS} decimals", dict(signal)
            )

    order_type = _choice(signal, "order_type", OrderType, OrderType.MARKET.value)
    default_tif = TimeInForce.GTC.value if is_crypto(symbol) else TimeInForce.DAY.value
    tif = _choice(signal, "time_in_force", TimeInForce, default_tif)
    order_class = _choice(signal, "order_class", OrderClass, OrderClass.SIMPLE.value)
    shape = read_shape(signal, symbol, side, order_type, tif, order_class)

    if signal.get("price") is not None:
        price = price_of(signal["price"], "price", signal)
    elif shape.limit_price is not None:
        price = shape.limit_price
    elif shape.stop_price is not None:
        price = shape.stop_price  # a stop expects to trade about its trigger
    elif current_prices is not None and symbol in current_prices:
        price = current_prices[symbol]
    else:
        raise InvalidSignal(f"price is missing and {symbol} has no current price", dict(signal))
    if notional is not None:
        problem = notional_problem(order_type, tif, order_class, symbol)
        if problem is not None:
            raise InvalidSignal(problem, dict(signal))
        # an estimate for the reservation; the broker says what the amount really buys
        quantity = (notional / price).quantize(Decimal("1E-9"), rounding=ROUND_DOWN)
        if quantity <= 0:
            raise InvalidSignal(f"notional {dec_str(notional)} buys nothing of {symbol}", signal)
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
        limit_price=shape.limit_price,
        requested_price=price,
        extra=extra,
        stop_price=shape.stop_price,
        trail_price=shape.trail_price,
        trail_percent=shape.trail_percent,
        order_class=order_class,
        take_profit_limit_price=shape.take_profit_limit_price,
        stop_loss_stop_price=shape.stop_loss_stop_price,
        stop_loss_limit_price=shape.stop_loss_limit_price,
        notional=notional,
    )


def _notional(signal: Mapping[str, Any]) -> Decimal | None:
    """A signal's dollar amount, when it gives one instead of a quantity."""
    if signal.get("notional") is None:
        return None
    if signal.get("quantity") is not None:
        raise InvalidSignal("give quantity or notional, not both", dict(signal))
    try:
        amount = bounded_decimal(signal["notional"], "notional")
    except NotANumber as e:
        raise InvalidSignal(str(e), _printable(signal)) from e
    if amount < 1 or decimal_places(amount) > 2:
        raise InvalidSignal(
            f"notional must be at least 1 with at most 2 decimals, got {dec_str(amount)}",
            dict(signal),
        )
    return amount


def _replace_intent(signal: Mapping[str, Any], order_id: str) -> ReplaceIntent:
    """A replace signal: the order to replace and what changes (at least one thing)."""
    unknown = sorted(str(k) for k in signal if k not in _REPLACE_KEYS)
    if unknown:
        raise InvalidSignal(
            f"replace takes quantity, price, stop_price, trail or time_in_force, not "
            f"{', '.join(unknown)}",
            dict(signal),
        )
    quantity = None
    if signal.get("quantity") is not None:
        quantity = _number(signal, "quantity")
        if decimal_places(quantity) > MAX_QTY_DECIMALS:
            raise InvalidSignal(
                f"quantity {quantity} has more than {MAX_QTY_DECIMALS} decimals", dict(signal)
            )

    def optional(key: str) -> Decimal | None:
        raw = signal.get(key)
        return None if raw is None else price_of(raw, key, signal)

    tif = None
    if signal.get("time_in_force") is not None:
        tif = _choice(signal, "time_in_force", TimeInForce, None)
    intent = ReplaceIntent(
        order_id=order_id,
        quantity=quantity,
        limit_price=optional("price"),
        stop_price=optional("stop_price"),
        trail=optional("trail"),
        time_in_force=tif,
    )
    if intent == ReplaceIntent(order_id=order_id):
        raise InvalidSignal(
            "replace needs at least one of quantity, price, stop_price, trail, time_in_force",
            dict(signal),
        )
    return intent


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
