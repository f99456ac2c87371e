"""Alpaca payloads and errors to domain types and back: the one translation point for Alpaca.

Payloads are read from alpaca-py's raw JSON (`raw_data=True`) rather than its models, because
its models carry prices and quantities as floats; statuses and events go through the domain's
one status table (`qtc.domain.events`); an order that cannot be read is an UnreadableOrder
(quarantined alone by the tracker), never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass as AlpacaOrderClass
from alpaca.trading.enums import OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest

from qtc.domain import times
from qtc.domain.decimals import NotANumber, to_decimal
from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.errors import (
    BrokerAuthError,
    BrokerError,
    BrokerProtocolError,
    BrokerUnavailable,
    OrderNotCancelable,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    UnreadableOrder,
)
from qtc.domain.events import EVENT_STATUS, parse_event, parse_status
from qtc.domain.orders import BrokerOrder, OrderRequest, ReplaceRequest, TradeUpdate
from qtc.domain.orders import UnreadableOrder as UnreadableOrderInfo

_QUOTED_STATUS = re.compile(r'"([a-z_]+)"')


def parse_time(raw: Any) -> datetime:
    """An Alpaca RFC 3339 timestamp (nanoseconds allowed) as an aware UTC datetime."""
    if not isinstance(raw, str):
        raise BrokerProtocolError(f"expected a timestamp, got {raw!r}")
    try:
        return times.parse_time(raw)
    except (ValueError, OverflowError) as e:
        raise BrokerProtocolError(f"bad timestamp {raw!r}") from e


def _decimal(raw: Any, what: str) -> Decimal:
    try:
        return to_decimal(raw)
    except NotANumber as e:
        raise BrokerProtocolError(f"bad {what} {raw!r}") from e


def _optional_decimal(raw: Any, what: str) -> Decimal | None:
    return None if raw is None or raw == "" else _decimal(raw, what)


def _enum(
    kind: type[Side] | type[OrderType] | type[TimeInForce] | type[OrderClass], raw: Any
) -> Any:
    try:
        return kind(raw)
    except ValueError as e:
        raise BrokerProtocolError(f"unsupported {kind.__name__} {raw!r}") from e


def order_from_payload(data: Mapping[str, Any]) -> BrokerOrder:
    """An Alpaca order JSON object as a BrokerOrder, its legs (a bracket's, an OCO's) with it.

    An order QTC cannot read (a status outside Alpaca's vocabulary, an options order placed by
    hand) raises UnreadableOrder, which names the order; a payload that is not an order at all
    raises BrokerProtocolError.
    """
    try:
        broker_id = str(data["id"])
    except (KeyError, TypeError) as e:
        raise BrokerProtocolError(f"order payload without an id: {data!r:.200}") from e
    try:
        return _order(data, broker_id)
    except BrokerProtocolError as e:
        raise _unreadable(data, broker_id, str(e)) from e
    except KeyError as e:
        raise _unreadable(data, broker_id, f"order payload lacks {e.args[0]!r}") from e
    except TypeError as e:
        raise _unreadable(data, broker_id, f"malformed order payload: {e}") from e


def _order(data: Mapping[str, Any], broker_id: str) -> BrokerOrder:
    filled_qty = _optional_decimal(data.get("filled_qty"), "filled_qty") or Decimal(0)
    notional = _optional_decimal(data.get("notional"), "notional")
    qty = _optional_decimal(data.get("qty"), "qty")
    if qty is None:
        if notional is None:
            raise BrokerProtocolError(f"order {broker_id} has neither qty nor notional")
        qty = filled_qty  # Alpaca sizes a notional order as it fills
    filled_avg = _optional_decimal(data.get("filled_avg_price"), "filled_avg_price")
    legs = data.get("legs") or ()
    if not isinstance(legs, list | tuple):
        raise BrokerProtocolError(f"order {broker_id} has legs that are not a list")
    return BrokerOrder(
        broker_order_id=broker_id,
        client_order_id=str(data["client_order_id"]),
        symbol=str(data["symbol"]),
        side=_enum(Side, data["side"]),
        qty=qty,
        order_type=_enum(OrderType, data.get("type") or data.get("order_type")),
        time_in_force=_enum(TimeInForce, data["time_in_force"]),
        limit_price=_optional_decimal(data.get("limit_price"), "limit_price"),
        status=parse_status(str(data["status"])),
        filled_qty=filled_qty,
        # Alpaca shows 0 before any fill; the domain says "no price yet".
        filled_avg_price=filled_avg if filled_avg else None,
        submitted_at=parse_time(data.get("submitted_at") or data["created_at"]),
        updated_at=parse_time(data.get("updated_at") or data["created_at"]),
        reason=data.get("reject_reason") or data.get("reason"),
        stop_price=_optional_decimal(data.get("stop_price"), "stop_price"),
        trail_price=_optional_decimal(data.get("trail_price"), "trail_price"),
        trail_percent=_optional_decimal(data.get("trail_percent"), "trail_percent"),
        hwm=_optional_decimal(data.get("hwm"), "hwm"),
        # Alpaca writes "" for a simple order
        order_class=_enum(OrderClass, data.get("order_class") or "simple"),
        legs=tuple(_order(leg, str(leg["id"])) for leg in legs),
        replaced_by=_optional_id(data.get("replaced_by")),
        replaces=_optional_id(data.get("replaces")),
        notional=notional,
    )


def _optional_id(raw: Any) -> str | None:
    return None if raw is None or raw == "" else str(raw)


def _unreadable(data: Mapping[str, Any], broker_id: str, reason: str) -> UnreadableOrder:
    client_id = data.get("client_order_id")
    raw_status = data.get("status")
    try:
        submitted: datetime | None = parse_time(data.get("submitted_at") or data.get("created_at"))
    except BrokerProtocolError:
        submitted = None
    order = UnreadableOrderInfo(
        broker_order_id=broker_id,
        client_order_id=client_id if isinstance(client_id, str) else None,
        submitted_at=submitted,
        raw_status=str(raw_status)[:64] if raw_status is not None else None,
        reason=reason,
    )
    return UnreadableOrder(order, f"order {broker_id}: {reason}")


def orders_from_listing(items: list[Any]) -> list[BrokerOrder | UnreadableOrderInfo]:
    """A listing page, every item kept: an order QTC cannot read stays in the page as an
    UnreadableOrder, so that it never shortens the page (paging goes on past it) and the
    tracker decides what it means (quarantine a team's order, report one nobody placed)."""
    orders: list[BrokerOrder | UnreadableOrderInfo] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise BrokerProtocolError(f"order listing holds a {type(item).__name__}")
        try:
            orders.append(order_from_payload(item))
        except UnreadableOrder as e:
            orders.append(e.order)
    return orders


def trade_update_from_payload(data: Mapping[str, Any]) -> TradeUpdate:
    """The `data` of one `trade_updates` message as a TradeUpdate."""
    try:
        event = parse_event(str(data["event"]))
        order_data = data["order"]
        if not isinstance(order_data, Mapping):
            raise BrokerProtocolError("trade update without an order object")
        if order_data.get("status") is None and EVENT_STATUS.get(event) is not None:
            order_data = {**order_data, "status": EVENT_STATUS[event]}
        order = order_from_payload(order_data)
        execution_id = data.get("execution_id")
        return TradeUpdate(
            event=event,
            order=order,
            timestamp=parse_time(data.get("timestamp") or order_data.get("updated_at")),
            execution_id=None if execution_id is None else str(execution_id),
            qty=_optional_decimal(data.get("qty"), "qty"),
            price=_optional_decimal(data.get("price"), "price"),
        )
    except KeyError as e:
        raise BrokerProtocolError(f"trade update lacks {e.args[0]!r}") from e


def _exact_float(value: Decimal, what: str) -> float:
    """alpaca-py's requests take floats; refuse a value that would not survive the trip."""
    as_float = float(value)
    if Decimal(repr(as_float)) != value:
        raise OrderRejected(f"{what} {value} has too many digits to send")
    return as_float


def _price(value: Decimal | None, what: str) -> float | None:
    return None if value is None else _exact_float(value, what)


def order_request_to_alpaca(request: OrderRequest) -> AlpacaOrderRequest:
    """The domain's OrderRequest as alpaca-py's request model for its type and class (its own
    validation applies: a ValueError from it is an OrderRejected here)."""
    common: dict[str, Any] = {
        "symbol": request.symbol,
        "side": OrderSide(request.side.value),
        "time_in_force": AlpacaTimeInForce(request.time_in_force.value),
        "client_order_id": request.client_order_id,
    }
    if request.notional is not None:
        common["notional"] = _exact_float(request.notional, "notional")
    else:
        common["qty"] = _exact_float(request.qty, "quantity")
    if request.order_class is not OrderClass.SIMPLE:
        common["order_class"] = AlpacaOrderClass(request.order_class.value)
        if request.take_profit_limit_price is not None:
            common["take_profit"] = TakeProfitRequest(
                limit_price=_exact_float(request.take_profit_limit_price, "take-profit price")
            )
        if request.stop_loss_stop_price is not None:
            common["stop_loss"] = StopLossRequest(
                stop_price=_exact_float(request.stop_loss_stop_price, "stop-loss price"),
                limit_price=_price(request.stop_loss_limit_price, "stop-loss limit price"),
            )
    limit = _price(request.limit_price, "limit price")
    stop = _price(request.stop_price, "stop price")
    kind = request.order_type
    try:
        if kind is OrderType.LIMIT:
            return LimitOrderRequest(**common, limit_price=limit)
        if kind is OrderType.STOP:
            return StopOrderRequest(**common, stop_price=stop)
        if kind is OrderType.STOP_LIMIT:
            return StopLimitOrderRequest(**common, stop_price=stop, limit_price=limit)
        if kind is OrderType.TRAILING_STOP:
            return TrailingStopOrderRequest(
                **common,
                trail_price=_price(request.trail_price, "trail price"),
                trail_percent=_price(request.trail_percent, "trail percent"),
            )
        return MarketOrderRequest(**common)
    except ValueError as e:  # pydantic's ValidationError is one
        raise OrderRejected(f"not an order Alpaca takes: {_first_error(e)}") from e


def replace_request_to_alpaca(change: ReplaceRequest) -> ReplaceOrderRequest:
    """The domain's ReplaceRequest as alpaca-py's (whose qty is whole shares only)."""
    qty: int | None = None
    if change.qty is not None:
        if change.qty != change.qty.to_integral_value():
            raise OrderRejected(f"a replacement qty must be whole shares, not {change.qty}")
        qty = int(change.qty)
    try:
        return ReplaceOrderRequest(
            qty=qty,
            time_in_force=None
            if change.time_in_force is None
            else AlpacaTimeInForce(change.time_in_force.value),
            limit_price=_price(change.limit_price, "limit price"),
            stop_price=_price(change.stop_price, "stop price"),
            trail=_price(change.trail, "trail"),
            client_order_id=change.client_order_id,
        )
    except ValueError as e:
        raise OrderRejected(f"not a replacement Alpaca takes: {_first_error(e)}") from e


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", error))[:200]
    return str(error)[:200]


def _message(error: APIError) -> str:
    try:
        return str(error.message)
    except (ValueError, KeyError, TypeError):
        return str(error)


def _retry_after(error: APIError) -> float | None:
    response = error.response
    raw = None if response is None else response.headers.get("Retry-After")
    try:
        return None if raw is None else max(float(raw), 0.0)
    except ValueError:
        return None


def _status_in(message: str) -> OrderStatus | None:
    """The status named in Alpaca's `order is already in "filled" state`, if any."""
    found = _QUOTED_STATUS.search(message)
    if found is None:
        return None
    try:
        return OrderStatus(found.group(1))
    except ValueError:
        return None


def translate_error(error: Exception, operation: str) -> BrokerError:
    """The domain error for what alpaca-py raised during `operation` (submit, cancel, ...)."""
    if isinstance(error, BrokerError):
        return error
    if isinstance(error, APIError):
        status = error.status_code
        message = _message(error)
        text = f"{operation}: {status} {message}"
        if status == 401:
            return BrokerAuthError(text)
        if status == 403:
            # Alpaca answers 403 to an order it refuses (insufficient buying power, ...).
            if operation in ("submit", "replace"):
                return OrderRejected(message)
            return BrokerAuthError(text)
        if status == 404:
            return OrderNotFound(text)
        if status == 429:
            return RateLimited(text, retry_after=_retry_after(error))
        if status in (400, 422):
            closed = _status_in(message)
            if operation == "replace" and closed is not None and not closed.is_open:
                return OrderNotCancelable(message, closed)
            if operation in ("submit", "replace"):
                return OrderRejected(message)
            if operation == "cancel":
                return OrderNotCancelable(message, _status_in(message))
            return BrokerProtocolError(text)
        if status is not None and status >= 500:
            return BrokerUnavailable(text)
        return BrokerProtocolError(text)
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return BrokerUnavailable(f"{operation}: {type(error).__name__}: {error}")
    if isinstance(error, json.JSONDecodeError | requests.JSONDecodeError):
        return BrokerProtocolError(f"{operation}: unreadable answer: {error}")
    if isinstance(error, requests.RequestException):
        return BrokerUnavailable(f"{operation}: {type(error).__name__}: {error}")
    if isinstance(error, ValueError):
        return BrokerProtocolError(f"{operation}: {error}")
    raise error
