"""The exchange's records written in Alpaca's v2 JSON shapes (decimals as strings, UUID ids)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderClass, OrderStatus
from qtc.domain.market import Bar, is_crypto
from qtc.domain.orders import BrokerOrder, TradeUpdate
from qtc.exchange.engine.records import AccountSnapshot, Execution, Position
from qtc.exchange.server.assets import asset_class, asset_id, exchange_of

# Fixed so that asset and account ids are the same on every run of the exchange.
_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4c53-9a55-3b0f1f6a9c11")
ACCOUNT_ID = str(uuid.uuid5(_NAMESPACE, "account"))
ACCOUNT_NUMBER = "PA3QTC000001"
NEW_YORK = ZoneInfo("America/New_York")


def rfc3339(moment: datetime | None) -> str | None:
    """A UTC timestamp as Alpaca writes it: `2024-01-02T14:30:00.123456Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_uuid(identifier: str) -> str:
    """The id itself if it is a UUID (alpaca-py insists on UUIDs), else a stable UUID for it."""
    try:
        return str(uuid.UUID(identifier))
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, identifier))


def position_symbol(symbol: str) -> str:
    """Alpaca spells crypto positions and activities without the slash (`BTCUSD`)."""
    return symbol.replace("/", "")


def order_json(
    order: BrokerOrder,
    status_override: str | None = None,
    position_intent: str | None = None,
    *,
    nested: bool = True,
    intent_of: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """An order as `GET /v2/orders/{id}` answers it (`status_override`: the status to report
    instead of the engine's; `position_intent`: what the exchange decided the order does;
    `nested`: a group's legs inside it, else `legs` is null as in an un-nested listing;
    `intent_of`: a leg's position intent by its id)."""
    at = rfc3339(order.updated_at)
    status = order.status
    legs = None
    if nested and order.legs:
        legs = [
            order_json(leg, None, intent_of(leg.broker_order_id) if intent_of else None)
            for leg in order.legs
        ]
    return {
        "id": as_uuid(order.broker_order_id),
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.submitted_at),
        "updated_at": at,
        "submitted_at": rfc3339(order.submitted_at),
        "filled_at": at if status == OrderStatus.FILLED else None,
        "expired_at": at if status == OrderStatus.EXPIRED else None,
        "canceled_at": at if status == OrderStatus.CANCELED else None,
        "failed_at": at if status == OrderStatus.REJECTED else None,
        "replaced_at": at if status == OrderStatus.REPLACED else None,
        "replaced_by": None if order.replaced_by is None else as_uuid(order.replaced_by),
        "replaces": None if order.replaces is None else as_uuid(order.replaces),
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "crypto" if is_crypto(order.symbol) else "us_equity",
        "notional": dec_str(order.notional),
        "qty": dec_str(order.qty),
        "filled_qty": dec_str(order.filled_qty),
        "filled_avg_price": dec_str(order.filled_avg_price),
        # Alpaca writes "" for a simple order
        "order_class": "" if order.order_class is OrderClass.SIMPLE else order.order_class.value,
        "order_type": order.order_type.value,
        "type": order.order_type.value,
        "side": order.side.value,
        "position_intent": position_intent
        or ("buy_to_open" if order.side.value == "buy" else "sell_to_close"),
        "time_in_force": order.time_in_force.value,
        "limit_price": dec_str(order.limit_price),
        "stop_price": dec_str(order.stop_price),
        "status": status_override or status.value,
        "extended_hours": False,
        "legs": legs,
        "trail_percent": dec_str(order.trail_percent),
        "trail_price": dec_str(order.trail_price),
        "hwm": dec_str(order.hwm),
        "expires_at": None,
    }


def trade_update_message(
    update: TradeUpdate,
    position_qty: Decimal | None,
    position_intent: str | None = None,
    intent_of: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """A `trade_updates` websocket message; fill events carry the execution and position."""
    data: dict[str, Any] = {
        "event": update.event.value,
        "timestamp": rfc3339(update.timestamp),
        "order": order_json(update.order, position_intent=position_intent, intent_of=intent_of),
    }
    if update.execution_id is not None:
        data["execution_id"] = as_uuid(update.execution_id)
    if update.qty is not None:
        data["qty"] = dec_str(update.qty)
    if update.price is not None:
        data["price"] = dec_str(update.price)
    if update.execution_id is not None or update.qty is not None:
        data["position_qty"] = dec_str(position_qty if position_qty is not None else Decimal(0))
    return {"stream": "trade_updates", "data": data}


def account_json(account: AccountSnapshot, created_at: datetime) -> dict[str, Any]:
    """The account as `GET /v2/account` answers it."""
    long_value = account.long_market_value
    short_value = account.short_market_value
    equity = dec_str(account.equity)
    buying_power = dec_str(account.buying_power)
    return {
        "id": ACCOUNT_ID,
        "account_number": ACCOUNT_NUMBER,
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": buying_power,
        "regt_buying_power": buying_power,
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": buying_power,
        "options_buying_power": buying_power,
        "cash": dec_str(account.cash),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": equity,
        "equity": equity,
        "last_equity": equity,
        "long_market_value": dec_str(long_value),
        "short_market_value": dec_str(short_value),
        # a short's 100% margin (the rule in `engine.account`); longs are cash-paid
        "initial_margin": dec_str(abs(short_value)),
        "maintenance_margin": dec_str(abs(short_value)),
        "last_maintenance_margin": "0",
        "sma": "0",
        "multiplier": "1",
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "shorting_enabled": account.shorting_enabled,
        "daytrade_count": 0,
        "options_approved_level": 0,
        "options_trading_level": 0,
        "created_at": rfc3339(created_at),
    }


def position_json(position: Position, qty_available: Decimal | None = None) -> dict[str, Any]:
    """One position as `GET /v2/positions` answers it (`qty_available`: signed, what open
    orders do not already take; default the whole quantity)."""
    qty = position.qty
    cost_basis = qty * position.avg_entry_price
    market_value = _value(position)
    unrealized = market_value - cost_basis
    plpc = unrealized / abs(cost_basis) if cost_basis else Decimal(0)
    current = position.current_price if position.current_price is not None else None
    crypto = is_crypto(position.symbol)
    return {
        "asset_id": asset_id(position.symbol),
        "symbol": position_symbol(position.symbol),
        "exchange": exchange_of(position.symbol),
        "asset_class": asset_class(position.symbol),
        "asset_marginable": not crypto,
        "avg_entry_price": dec_str(position.avg_entry_price),
        "qty": dec_str(qty),
        "qty_available": dec_str(qty if qty_available is None else qty_available),
        "side": "long" if qty >= 0 else "short",
        "market_value": dec_str(market_value),
        "cost_basis": dec_str(cost_basis),
        "unrealized_pl": dec_str(unrealized),
        "unrealized_plpc": dec_str(round(plpc, 10)),
        "unrealized_intraday_pl": dec_str(unrealized),
        "unrealized_intraday_plpc": dec_str(round(plpc, 10)),
        "current_price": dec_str(current if current is not None else position.avg_entry_price),
        "lastday_price": dec_str(current if current is not None else position.avg_entry_price),
        "change_today": "0",
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    """One engine execution for `GET /qtc/executions` (the oracle for ledger checks)."""
    return {
        "execution_id": as_uuid(execution.execution_id),
        "order_id": as_uuid(execution.broker_order_id),
        "client_order_id": execution.client_order_id,
        "symbol": execution.symbol,
        "side": execution.side.value,
        "qty": dec_str(execution.qty),
        "price": dec_str(execution.price),
        "timestamp": rfc3339(execution.timestamp),
    }


def fill_activities(
    executions: Iterable[Execution], order_qty: Mapping[str, Decimal]
) -> list[dict[str, Any]]:
    """Executions as `GET /v2/account/activities/FILL` entries, oldest first, with each
    order's running `cum_qty` and `leaves_qty`."""
    cumulative: dict[str, Decimal] = {}
    activities = []
    for execution in executions:
        order_id = execution.broker_order_id
        cum = cumulative.get(order_id, Decimal(0)) + execution.qty
        cumulative[order_id] = cum
        leaves = max(order_qty.get(order_id, cum) - cum, Decimal(0))
        kind = "fill" if leaves == 0 else "partial_fill"
        stamp = execution.timestamp.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        activities.append(
            {
                "id": f"{stamp}::{as_uuid(execution.execution_id)}",
                "account_id": ACCOUNT_ID,
                "activity_type": "FILL",
                "transaction_time": rfc3339(execution.timestamp),
                "type": kind,
                "price": dec_str(execution.price),
                "qty": dec_str(execution.qty),
                "side": execution.side.value,
                "symbol": position_symbol(execution.symbol),
                "leaves_qty": dec_str(leaves),
                "order_id": as_uuid(order_id),
                "cum_qty": dec_str(cum),
                "order_status": "filled" if leaves == 0 else "partially_filled",
            }
        )
    return activities


def bar_json(bar: Bar) -> dict[str, Any]:
    """A minute bar in the market-data API's short keys; prices are JSON numbers there."""
    return {
        "t": rfc3339(bar.timestamp),
        "o": float(bar.open),
        "h": float(bar.high),
        "l": float(bar.low),
        "c": float(bar.close),
        "v": float(bar.volume),
        "n": 1,
        "vw": float((bar.high + bar.low + bar.close) / 3),
    }


def clock_json(
    now: datetime, is_open: bool, next_open: datetime, next_close: datetime
) -> dict[str, Any]:
    """`GET /v2/clock`: Alpaca writes these times in New York time."""
    return {
        "timestamp": now.astimezone(NEW_YORK).isoformat(),
        "is_open": is_open,
        "next_open": next_open.astimezone(NEW_YORK).isoformat(),
        "next_close": next_close.astimezone(NEW_YORK).isoformat(),
    }


def error_json(code: int, message: str) -> dict[str, Any]:
    """Alpaca's error body."""
    return {"code": code, "message": message}


def _value(position: Position) -> Decimal:
    value = position.market_value
    return value if value is not None else position.qty * position.avg_entry_price
