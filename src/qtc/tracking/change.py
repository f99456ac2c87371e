"""What a broker report changes about an order: decided without I/O, applied in one place.

`decide` is pure: from the order as held, what the broker says and what the ledger holds, it
returns a Change (new status, fills, the one ledger line to book). The Recorder makes the Change
durable first and only then calls `apply_change`, the one function that sets an order's fields,
so a change that could not be written leaves the order exactly as it was (and is retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from qtc.domain.enums import OrderStatus
from qtc.domain.fills import Fill, HeldFills, derive_fill
from qtc.domain.orders import BrokerOrder, Order
from qtc.domain.transitions import can_transition

_UNSET = "unset"


@dataclass(frozen=True, slots=True)
class Change:
    """Everything that changes about one order; None fields stay as they are."""

    at: datetime
    status: OrderStatus | None = None
    reason: str | None = None
    broker_order_id: str | None = None
    filled_qty: Decimal | None = None
    filled_avg_price: Decimal | None = None
    fill: Fill | None = None  # the ledger line that must be durable before anything changes
    broker_status: str | None = _UNSET  # the raw status of a quarantined order; None clears it
    not_found_count: int | None = None

    @property
    def visible(self) -> bool:
        """True when teams see a difference (status, fills, broker id, quarantine)."""
        return (
            self.status is not None
            or self.broker_order_id is not None
            or self.filled_qty is not None
            or self.fill is not None
            or self.broker_status != _UNSET
        )

    @property
    def empty(self) -> bool:
        """True when nothing changes (not even the lookup count)."""
        return not self.visible and self.not_found_count is None


def decide(
    order: Order,
    snap: BrokerOrder,
    status: OrderStatus | None,
    at: datetime,
    held: HeldFills,
    *,
    execution_id: str | None = None,
    qty: Decimal | None = None,
    price: Decimal | None = None,
) -> Change:
    """The change a broker snapshot (or stream event, whose `status` overrides the snapshot's)
    makes: monotone status, fills from the cumulative quantity over what the ledger holds.

    A stream event moves the status only forward (events can come late or twice); a snapshot
    from a poll (`status` None) is the broker's present word, so between open statuses it
    always wins (a held order released, a rejected cancel back at work). A terminal order never
    reopens either way."""
    new_status = snap.status if status is None else status
    moved = new_status != order.status and (
        can_transition(order.status, new_status)
        # a poll says how an open order stands now: among open statuses, its word wins
        or (
            status is None
            and order.is_open
            and new_status.is_open
            and new_status is not OrderStatus.PENDING_NEW
        )
    )
    reason = None
    if moved and new_status is OrderStatus.REJECTED:
        reason = snap.reason or "rejected by the broker"
    # fills are recorded whatever the status: they really do arrive after a cancel
    fill = derive_fill(
        order_id=order.order_id,
        symbol=order.symbol,
        side=order.side,
        held=held,
        cum_qty=snap.filled_qty,
        avg_price=snap.filled_avg_price,
        timestamp=at,
        execution_id=execution_id,
        event_qty=qty,
        event_price=price,
    )
    larger = snap.filled_qty > order.filled_qty
    return Change(
        at=at,
        status=new_status if moved else None,
        reason=reason,
        broker_order_id=snap.broker_order_id if order.broker_order_id is None else None,
        filled_qty=snap.filled_qty if larger else None,
        filled_avg_price=snap.filled_avg_price if larger else None,
        fill=fill,
        broker_status=None if order.broker_status is not None else _UNSET,
        not_found_count=0 if order.not_found_count else None,
    )


def close(order: Order, status: OrderStatus, reason: str, at: datetime) -> Change:
    """End an order the broker will never report on (rejected at submit, or lost)."""
    if status == order.status or not can_transition(order.status, status):
        return Change(at=at)
    return Change(at=at, status=status, reason=reason)


def cancel_requested(order: Order, at: datetime) -> Change:
    """The broker accepted a cancel request: `pending_cancel` until it says how it ended."""
    if not can_transition(order.status, OrderStatus.PENDING_CANCEL):
        return Change(at=at)  # it already ended, or already waits for its cancel
    return Change(at=at, status=OrderStatus.PENDING_CANCEL)


def quarantine(order: Order, raw_status: str | None, at: datetime) -> Change:
    """The broker reports the order in a status QTC cannot read: keep it open, show the raw
    status, act on nothing until the broker says something readable."""
    raw = raw_status or "unreadable"
    if order.broker_status == raw:
        return Change(at=at)
    return Change(at=at, broker_status=raw)


def strike(order: Order, at: datetime) -> Change:
    """One more real "not found" answer for the order."""
    return Change(at=at, not_found_count=order.not_found_count + 1)


def lost_verdict(order: Order, lost_after: int) -> str:
    """The lost-order policy, after a "not found" strike: `wait` for more lookups, `keep` it
    open (a pending cancel: only the broker says how it ended), or `lose` it (close it)."""
    if order.not_found_count < lost_after:
        return "wait"
    if order.status is OrderStatus.PENDING_CANCEL:
        return "keep"
    return "lose"


def apply_change(order: Order, change: Change) -> None:
    """The one place an order's fields change (after the change is durable)."""
    if change.broker_order_id is not None:
        order.broker_order_id = change.broker_order_id
    if change.status is not None:
        order.status = change.status
        if change.reason is not None:
            order.reason = change.reason
    if change.filled_qty is not None:
        order.filled_qty = change.filled_qty
        order.filled_avg_price = change.filled_avg_price
    if change.broker_status != _UNSET:
        order.broker_status = change.broker_status
    if change.not_found_count is not None:
        order.not_found_count = change.not_found_count
    if change.visible:
        order.updated_at = max(order.updated_at, change.at)
