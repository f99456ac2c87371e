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
from alpaca.trading.enums import OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from qtc.domain import times
from qtc.domain.decimals import NotANumber, to_decimal
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
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
from qtc.domain.orders import BrokerOrder, OrderRequest, TradeUpdate
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


def _enum(kind: type[Side] | type[OrderType] | type[TimeInForce], raw: Any) -> Any:
    try:
        return kind(raw)
    except ValueError as e:
        raise BrokerProtocolError(f"unsupported {kind.__name__} {raw!r}") from e


def order_from_payload(data: Mapping[str, Any]) -> BrokerOrder:
    """An Alpaca order JSON object as a BrokerOrder.

    An order QTC cannot read (a status outside Alpaca's vocabulary, a stop or notional order
    placed by hand) raises UnreadableOrder, which names the order; a payload that is not an
    order at all raises BrokerProtocolError.
    """
    try:
        broker_id = str(data["id"])
    except (KeyError, TypeError) as e:
        raise BrokerProtocolError(f"order payload without an id: {data!r:.200}") from e
    try:
        qty = data["qty"]
        if qty is None:
            raise BrokerProtocolError(f"order {broker_id} has no qty (notional order?)")
        filled_avg = _optional_decimal(data.get("filled_avg_price"), "filled_avg_price")
        return BrokerOrder(
            broker_order_id=broker_id,
            client_order_id=str(data["client_order_id"]),
            symbol=str(data["symbol"]),
            side=_enum(Side, data["side"]),
            qty=_decimal(qty, "qty"),
            order_type=_enum(OrderType, data.get("type") or data.get("order_type")),
            time_in_force=_enum(TimeInForce, data["time_in_force"]),
            limit_price=_optional_decimal(data.get("limit_price"), "limit_price"),
            status=parse_status(str(data["status"])),
            filled_qty=_optional_decimal(data.get("filled_qty"), "filled_qty") or Decimal(0),
            # Alpaca shows 0 before any fill; the domain says "no price yet".
            filled_avg_price=filled_avg if filled_avg else None,
            submitted_at=parse_time(data.get("submitted_at") or data["created_at"]),
            updated_at=parse_time(data.get("updated_at") or data["created_at"]),
            reason=data.get("reject_reason") or data.get("reason"),
        )
    except BrokerProtocolError as e:
        raise _unreadable(data, broker_id, str(e)) from e
    except KeyError as e:
        raise _unreadable(data, broker_id, f"order payload lacks {e.args[0]!r}") from e
    except TypeError as e:
        raise _unreadable(data, broker_id, f"malformed order payload: {e}") from e


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


def order_request_to_alpaca(request: OrderRequest) -> MarketOrderRequest | LimitOrderRequest:
    """The domain's OrderRequest as alpaca-py's request model."""
    common: dict[str, Any] = {
        "symbol": request.symbol,
        "qty": _exact_float(request.qty, "quantity"),
        "side": OrderSide(request.side.value),
        "time_in_force": AlpacaTimeInForce(request.time_in_force.value),
        "client_order_id": request.client_order_id,
    }
    if request.order_type is OrderType.LIMIT:
        if request.limit_price is None:
            raise OrderRejected("a limit order needs a limit price")
        return LimitOrderRequest(
            **common, limit_price=_exact_float(request.limit_price, "limit price")
        )
    return MarketOrderRequest(**common)


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
            return OrderRejected(message) if operation == "submit" else BrokerAuthError(text)
        if status == 404:
            return OrderNotFound(text)
        if status == 429:
            return RateLimited(text, retry_after=_retry_after(error))
        if status in (400, 422):
            if operation == "submit":
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
