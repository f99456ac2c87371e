"""How orders and ledger lines look on disk: JSON with decimal strings (an order as teams see
it, `views.orders`, plus what only the tracker needs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import dec_str, to_decimal
from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.fills import Fill
from qtc.domain.orders import Order
from qtc.domain.times import iso, parse_time
from qtc.views.orders import order_view


def _opt_dec(raw: Any) -> Decimal | None:
    return None if raw is None else to_decimal(raw)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One line of `trades.jsonl`: one execution of one order."""

    team_id: str
    order_id: str
    broker_order_id: str | None
    execution_id: str
    symbol: str
    side: Side
    quantity: Decimal
    execution_price: Decimal
    requested_price: Decimal
    order_type: OrderType
    timestamp: datetime
    filled_qty: Decimal  # the order's cumulative filled quantity after this fill

    @classmethod
    def of(cls, team_id: str, order: Order, fill: Fill) -> TradeRecord:
        """The ledger line for `fill` of `order`."""
        return cls(
            team_id=team_id,
            order_id=order.order_id,
            broker_order_id=order.broker_order_id,
            execution_id=fill.execution_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.qty,
            execution_price=fill.price,
            requested_price=order.requested_price,
            order_type=order.order_type,
            timestamp=fill.timestamp,
            filled_qty=fill.cum_filled_qty,
        )

    def to_fill(self) -> Fill:
        """The domain fill this line records."""
        return Fill(
            order_id=self.order_id,
            execution_id=self.execution_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.quantity,
            price=self.execution_price,
            timestamp=self.timestamp,
            cum_filled_qty=self.filled_qty,
        )

    def to_json(self) -> dict[str, Any]:
        """The line as written to disk."""
        return {
            "team_id": self.team_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": dec_str(self.quantity),
            "requested_price": dec_str(self.requested_price),
            "execution_price": dec_str(self.execution_price),
            "order_type": self.order_type.value,
            "timestamp": iso(self.timestamp),
            "broker_order_id": self.broker_order_id,
            "order_id": self.order_id,
            "execution_id": self.execution_id,
            "filled_qty": dec_str(self.filled_qty),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TradeRecord:
        """Read a ledger line; raises KeyError/ValueError when it is not one."""
        return cls(
            team_id=str(data["team_id"]),
            order_id=str(data["order_id"]),
            broker_order_id=data.get("broker_order_id"),
            execution_id=str(data["execution_id"]),
            symbol=str(data["symbol"]),
            side=Side(data["side"]),
            quantity=to_decimal(data["quantity"]),
            execution_price=to_decimal(data["execution_price"]),
            requested_price=to_decimal(data["requested_price"]),
            order_type=OrderType(data["order_type"]),
            timestamp=parse_time(data["timestamp"]),
            filled_qty=to_decimal(data["filled_qty"]),
        )


def order_to_dict(order: Order) -> dict[str, Any]:
    """An order as the files keep it: what teams see plus the tracker's lookup count."""
    return {**order_view(order, exact=True), "not_found_count": order.not_found_count}


def order_from_dict(data: dict[str, Any]) -> Order:
    """Read an order written by `order_to_dict`; raises KeyError/ValueError when malformed."""
    return Order(
        order_id=str(data["order_id"]),
        team_id=str(data["team_id"]),
        symbol=str(data["symbol"]),
        side=Side(data["side"]),
        quantity=to_decimal(data["quantity"]),
        order_type=OrderType(data["order_type"]),
        time_in_force=TimeInForce(data["time_in_force"]),
        limit_price=_opt_dec(data.get("limit_price")),
        requested_price=to_decimal(data["requested_price"]),
        created_at=parse_time(data["created_at"]),
        updated_at=parse_time(data["updated_at"]),
        status=OrderStatus(data["status"]),
        filled_qty=to_decimal(data.get("filled_qty") or 0),
        filled_avg_price=_opt_dec(data.get("filled_avg_price")),
        broker_order_id=data.get("broker_order_id"),
        reason=data.get("reason"),
        extra=dict(data.get("extra") or {}),
        not_found_count=int(data.get("not_found_count") or 0),
        broker_status=data.get("broker_status"),
        stop_price=_opt_dec(data.get("stop_price")),
        trail_price=_opt_dec(data.get("trail_price")),
        trail_percent=_opt_dec(data.get("trail_percent")),
        order_class=OrderClass(data.get("order_class") or OrderClass.SIMPLE.value),
        take_profit_limit_price=_opt_dec(data.get("take_profit_limit_price")),
        stop_loss_stop_price=_opt_dec(data.get("stop_loss_stop_price")),
        stop_loss_limit_price=_opt_dec(data.get("stop_loss_limit_price")),
        parent_id=data.get("parent_id"),
        replaces=data.get("replaces"),
        replaced_by=data.get("replaced_by"),
        notional=_opt_dec(data.get("notional")),
    )
