"""Who hears of a durable change: the log, the team's live subscribers, the portfolio snapshots."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderStatus
from qtc.domain.fills import Fill
from qtc.domain.orders import Order
from qtc.tracking.events import EventHub
from qtc.tracking.logfields import about
from qtc.tracking.recorder import Recorder
from qtc.views.orders import order_view

# the broker acknowledging what was asked: the order's own lines already said it
_ACKNOWLEDGED = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.NEW,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_REPLACE,
    }
)


class OrderLog:
    """The organisers' lines for order updates, at INFO when an order's status moves on; an
    acknowledgement, one more partial fill of a partially filled order, and each fill (the
    update line that follows says it too) are DEBUG."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log

    def fill_booked(self, order: Order, fill: Fill, record: Mapping[str, Any]) -> None:
        """`Fill for order ...` with the running filled quantity (DEBUG)."""
        self.log.debug(
            "Fill for order %s: %s %s %s @ %s (filled %s/%s)",
            order.order_id,
            order.side.value,
            dec_str(fill.qty),
            order.symbol,
            dec_str(fill.price),
            dec_str(fill.cum_filled_qty),
            dec_str(order.quantity),
            extra=about(order),
        )

    def order_changed(self, order: Order, before: OrderStatus, filled: bool) -> None:
        """`Updated order ...`, and `Order ... FILLED` when it has just filled."""
        quiet = order.status in _ACKNOWLEDGED or (order.status is before and order.is_open)
        self.log.log(
            logging.DEBUG if quiet else logging.INFO,
            "Updated order %s: status=%s, filled=%s/%s",
            order.order_id,
            order.status.value,
            dec_str(order.filled_qty),
            dec_str(order.quantity),
            extra=about(order),
        )
        if filled:
            self.log.info(
                "Order %s FILLED: %s @ %s (requested: %s)",
                order.order_id,
                order.symbol,
                dec_str(order.filled_avg_price),
                dec_str(order.requested_price),
                extra=about(order),
            )


class LiveEvents:
    """Publishes fills and order updates to the team's SSE subscribers."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def fill_booked(self, order: Order, fill: Fill, record: Mapping[str, Any]) -> None:
        """An `event: fill` with the ledger line."""
        if self.hub.wants(order.team_id):
            self.hub.publish(order.team_id, "fill", record, fill.timestamp)

    def order_changed(self, order: Order, before: OrderStatus, filled: bool) -> None:
        """An `event: order` with the order as the API shows it."""
        if self.hub.wants(order.team_id):
            self.hub.publish(order.team_id, "order", order_view(order), order.updated_at)


class SnapshotAfterFill:
    """A portfolio snapshot line after every fill (the minute's snapshots come on top)."""

    def __init__(self, recorder: Recorder, prices: Callable[[], Mapping[str, Decimal]]) -> None:
        self.recorder = recorder
        self.prices = prices

    def fill_booked(self, order: Order, fill: Fill, record: Mapping[str, Any]) -> None:
        """Append the team's snapshot at the latest prices."""
        self.recorder.write_snapshot(order.team_id, self.prices())

    def order_changed(self, order: Order, before: OrderStatus, filled: bool) -> None:
        """Nothing: only fills move a portfolio."""
