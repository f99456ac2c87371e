"""Orders as the platform tracks them, and the broker's view of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.transitions import check_transition


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What is sent to a broker to open an order."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    # bracket/oco/oto legs: the take-profit limit, the stop-loss stop (and its optional limit)
    take_profit_limit_price: Decimal | None = None
    stop_loss_stop_price: Decimal | None = None
    stop_loss_limit_price: Decimal | None = None
    # a dollar amount instead of a quantity (market orders of fractionable assets); `qty` is
    # then the platform's estimate, and the broker buys or sells what the amount buys
    notional: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """What may change when an open order is replaced (PATCH); None keeps the old value."""

    qty: Decimal | None = None
    time_in_force: TimeInForce | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail: Decimal | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """A broker's view of one order, already translated into domain types."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    status: OrderStatus
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    submitted_at: datetime
    updated_at: datetime
    reason: str | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None  # a trailing stop's high-water (sell) or low-water (buy) mark
    order_class: OrderClass = OrderClass.SIMPLE
    legs: tuple[BrokerOrder, ...] = ()
    replaced_by: str | None = None  # broker ids of the order this one became / replaced
    replaces: str | None = None
    notional: Decimal | None = None  # a notional order's amount (`qty` what it came to)


@dataclass(frozen=True, slots=True)
class UnreadableOrder:
    """An order a broker reports that QTC cannot read (a status outside Alpaca's documented
    vocabulary, a type QTC does not trade): kept in a listing so that paging stays whole."""

    broker_order_id: str
    client_order_id: str | None
    submitted_at: datetime | None
    raw_status: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One event of the broker's `trade_updates` stream (or a poll result turned into one).

    `filled_qty`/`filled_avg_price` on `order` are cumulative; for fill events `execution_id`,
    `qty` and `price` describe this one execution.
    """

    event: TradeEvent
    order: BrokerOrder
    timestamp: datetime
    execution_id: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """The update stream (re)connected; events sent while it was down are never replayed."""

    timestamp: datetime


@dataclass(slots=True)
class Order:
    """An order as the platform tracks it; the broker is the truth, this is its cache."""

    order_id: str  # ours, sent as client_order_id
    team_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    requested_price: Decimal
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.PENDING_NEW
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    broker_order_id: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    not_found_count: int = 0
    # the broker's raw status when it is one QTC cannot read: the order is quarantined
    broker_status: str | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit_limit_price: Decimal | None = None
    stop_loss_stop_price: Decimal | None = None
    stop_loss_limit_price: Decimal | None = None
    parent_id: str | None = None  # a bracket/oco/oto leg: our id of the order it belongs to
    replaces: str | None = None  # our id of the order this one replaced
    replaced_by: str | None = None
    notional: Decimal | None = None  # a notional order: `quantity` is what the broker says

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.quantity - self.filled_qty, ZERO)

    def advance(self, status: OrderStatus, at: datetime) -> bool:
        """Move to `status` if that is forward; False for a repeat, IllegalTransition if back."""
        if not check_transition(self.status, status):
            return False
        self.status = status
        self.updated_at = max(self.updated_at, at)
        return True

    def record_fills(self, filled_qty: Decimal, avg_price: Decimal | None, at: datetime) -> bool:
        """Take a larger cumulative fill from the broker; smaller or equal ones are stale."""
        if filled_qty <= self.filled_qty:
            return False
        self.filled_qty = filled_qty
        self.filled_avg_price = avg_price
        self.updated_at = max(self.updated_at, at)
        return True
