"""What each `trade_updates` event says about an order's status."""

from __future__ import annotations

from qtc.domain.enums import OrderStatus, TradeEvent
from qtc.domain.errors import BrokerProtocolError

E = TradeEvent
S = OrderStatus

# None: the event carries no status of its own; the order snapshot in the event is read instead.
EVENT_STATUS: dict[TradeEvent, OrderStatus | None] = {
    E.NEW: S.NEW,
    E.ACCEPTED: S.ACCEPTED,
    E.PENDING_NEW: S.PENDING_NEW,
    E.PARTIAL_FILL: S.PARTIALLY_FILLED,
    E.FILL: S.FILLED,
    E.CANCELED: S.CANCELED,
    E.EXPIRED: S.EXPIRED,
    E.REJECTED: S.REJECTED,
    E.DONE_FOR_DAY: S.DONE_FOR_DAY,
    E.REPLACED: S.REPLACED,
    E.PENDING_CANCEL: S.PENDING_CANCEL,
    E.PENDING_REPLACE: S.PENDING_REPLACE,
    E.CALCULATED: S.CALCULATED,
    E.SUSPENDED: S.SUSPENDED,
    E.STOPPED: S.STOPPED,
    E.HELD: S.HELD,
    E.ORDER_REPLACE_REJECTED: None,
    E.ORDER_CANCEL_REJECTED: None,
}


def parse_status(raw: str) -> OrderStatus:
    """A broker's status string as a domain status; an unknown one is an error, not a guess."""
    try:
        return OrderStatus(raw)
    except ValueError as e:
        raise BrokerProtocolError(f"unknown order status {raw!r}") from e


def parse_event(raw: str) -> TradeEvent:
    """A broker's trade event name; an unknown one is an error."""
    try:
        return TradeEvent(raw)
    except ValueError as e:
        raise BrokerProtocolError(f"unknown trade event {raw!r}") from e
