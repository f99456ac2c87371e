"""Applying what the broker says about an order: monotone status, fills from cumulative qty."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO, dec_str
from qtc.domain.enums import OrderStatus
from qtc.domain.errors import IllegalTransition
from qtc.domain.fills import derive_fill
from qtc.domain.ids import team_of_order_id
from qtc.domain.orders import BrokerOrder, Order
from qtc.store.base import Store
from qtc.store.records import iso, order_fields
from qtc.tracking.book import OrderBook
from qtc.tracking.events import EventHub
from qtc.tracking.ledger import Ledger


@dataclass(slots=True)
class Outcome:
    """What applying one broker snapshot did."""

    changed: bool = False
    filled: bool = False  # the order became filled
    fills: int = 0  # ledger lines appended
    adopted: bool = False
    unattributed: bool = False


class Applier:
    """The single place where orders change state and fills reach the ledger."""

    def __init__(
        self,
        *,
        book: OrderBook,
        ledger: Ledger,
        store: Store,
        hub: EventHub,
        teams: Mapping[str, Decimal],
        now: Callable[[], datetime],
        prices: Mapping[str, Decimal],
        log: logging.Logger,
        flush_delay: float = 0.0,
    ) -> None:
        self.book = book
        self.ledger = ledger
        self.store = store
        self.hub = hub
        self.teams = teams
        self.now = now
        self.prices = prices
        self.log = log
        self.flush_delay = flush_delay
        self._dirty: set[str] = set()
        self._flush_handle: asyncio.Handle | None = None
        self._unattributed: set[str] = set()

    # the open-orders file, batched

    def mark_dirty(self, team_id: str) -> None:
        """The team's open orders changed: rewrite its file once the current burst is over."""
        self._dirty.add(team_id)
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the caller flushes
        # everything applied before the timer fires shares one rewrite per team
        self._flush_handle = loop.call_later(self.flush_delay, self.flush)

    def flush(self) -> None:
        """Rewrite pending_orders.jsonl of every team changed since the last flush."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        dirty, self._dirty = self._dirty, set()
        for team_id in sorted(dirty):
            self.store.save_open_orders(team_id, self.book.open_orders(team_id), new_order=False)

    def write_ahead(self, order: Order) -> None:
        """Persist a new order's open set now, before the broker hears of it."""
        self._dirty.discard(order.team_id)
        self.store.save_open_orders(order.team_id, self.book.open_orders(order.team_id))

    @property
    def unattributed(self) -> frozenset[str]:
        """Broker ids of orders seen at the broker that no team placed."""
        return frozenset(self._unattributed)

    # applying

    def apply(
        self,
        snap: BrokerOrder,
        status: OrderStatus | None,
        at: datetime,
        *,
        execution_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> Outcome:
        """Apply one broker snapshot (`status` overrides the snapshot's, for stream events)."""
        out = Outcome()
        order = self.book.find_for_broker(snap.client_order_id, snap.broker_order_id)
        if order is None:
            order = self._adopt(snap, out)
            if order is None:
                return out
        was_open = order.is_open
        if order.broker_order_id is None:
            self.book.set_broker_id(order, snap.broker_order_id)
            out.changed = True
        new_status = snap.status if status is None else status
        before = order.status
        try:
            if order.advance(new_status, at):
                out.changed = True
                if new_status is OrderStatus.REJECTED:
                    order.reason = snap.reason or "rejected by the broker"
                out.filled = new_status is OrderStatus.FILLED
        except IllegalTransition:
            self.log.debug(
                "Ignoring stale update for order %s: %s -> %s", order.order_id, before, new_status
            )
        # fills are recorded whatever the status: they really do arrive after a cancel
        self._book_fills(order, snap, at, execution_id, qty, price, out)
        if out.changed:
            self._after_change(order, was_open, out)
        return out

    def _book_fills(
        self,
        order: Order,
        snap: BrokerOrder,
        at: datetime,
        execution_id: str | None,
        qty: Decimal | None,
        price: Decimal | None,
        out: Outcome,
    ) -> None:
        fill = derive_fill(
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            held=self.ledger.held(order.order_id),
            cum_qty=snap.filled_qty,
            avg_price=snap.filled_avg_price,
            timestamp=at,
            execution_id=execution_id,
            event_qty=qty,
            event_price=price,
        )
        if fill is not None:
            record = self.ledger.book(order.team_id, order, fill)
            out.fills += 1
            self.log.info(
                "Fill for order %s: %s %s %s @ %s (filled %s/%s)",
                order.order_id,
                order.side.value,
                dec_str(fill.qty),
                order.symbol,
                dec_str(fill.price),
                dec_str(fill.cum_filled_qty),
                dec_str(order.quantity),
            )
            if self.hub.wants(order.team_id):
                self.hub.publish(order.team_id, "fill", record.to_json(), at)
            self.write_snapshot(order.team_id)
        if order.record_fills(snap.filled_qty, snap.filled_avg_price, at):
            out.changed = True

    def _after_change(self, order: Order, was_open: bool, out: Outcome) -> None:
        self.log.info(
            "Updated order %s: status=%s, filled=%s/%s",
            order.order_id,
            order.status.value,
            dec_str(order.filled_qty),
            dec_str(order.quantity),
        )
        if out.filled:
            self.log.info(
                "Order %s FILLED: %s @ %s (requested: %s)",
                order.order_id,
                order.symbol,
                dec_str(order.filled_avg_price),
                dec_str(order.requested_price),
            )
        if not order.is_open:
            # a late fill on a closed order writes an updated history line (the last one wins)
            self.store.append_order_history(order)
            if was_open:
                self.book.close(order)
            if order.status is OrderStatus.REJECTED and was_open:
                self.record_error(
                    order.team_id, "order", f"order {order.order_id} rejected: {order.reason}"
                )
        if was_open:
            self.mark_dirty(order.team_id)
        self.publish_order(order)

    def publish_order(self, order: Order) -> None:
        """Tell the team's live subscribers how the order stands now."""
        if self.hub.wants(order.team_id):
            self.hub.publish(order.team_id, "order", order_fields(order), order.updated_at)

    def close_locally(self, order: Order, status: OrderStatus, reason: str) -> None:
        """End an order the broker will never report on (rejected at submit, or lost)."""
        was_open = order.is_open
        try:
            changed = order.advance(status, self.now())
        except IllegalTransition:
            return
        if changed:
            order.reason = reason
            self._after_change(order, was_open, Outcome(changed=True))

    def cancel_requested(self, order: Order) -> None:
        """The broker accepted a cancel request: `pending_cancel` until it says how it ended."""
        try:
            changed = order.advance(OrderStatus.PENDING_CANCEL, self.now())
        except IllegalTransition:
            return  # it already ended (the final event came before the cancel call returned)
        if changed:
            self.mark_dirty(order.team_id)
            self.publish_order(order)

    def _adopt(self, snap: BrokerOrder, out: Outcome) -> Order | None:
        team_id = team_of_order_id(snap.client_order_id)
        if team_id is None or team_id not in self.teams:
            out.unattributed = True
            if snap.broker_order_id not in self._unattributed:
                self._unattributed.add(snap.broker_order_id)
                self.log.warning(
                    "Unattributed order at broker (not booked): broker_order_id=%s "
                    "client_order_id=%s %s %s %s status=%s",
                    snap.broker_order_id,
                    snap.client_order_id,
                    snap.side.value,
                    dec_str(snap.qty),
                    snap.symbol,
                    snap.status.value,
                )
            return None
        order = Order(
            order_id=snap.client_order_id,
            team_id=team_id,
            symbol=snap.symbol,
            side=snap.side,
            quantity=snap.qty,
            order_type=snap.order_type,
            time_in_force=snap.time_in_force,
            limit_price=snap.limit_price,
            requested_price=snap.limit_price or snap.filled_avg_price or ZERO,
            created_at=snap.submitted_at,
            updated_at=snap.submitted_at,
            broker_order_id=snap.broker_order_id,
        )
        self.book.add(order)
        self.log.warning(
            "Adopted order %s of team %s found at broker (%s)",
            order.order_id,
            team_id,
            snap.broker_order_id,
        )
        out.adopted = True
        out.changed = True
        return order

    # snapshots and errors

    def write_snapshot(self, team_id: str) -> None:
        """Append the team's portfolio snapshot (after each fill and each minute)."""
        portfolio = self.ledger.portfolios[team_id]
        at = self.now()
        snapshot: dict[str, Any] = {
            "timestamp": iso(at),
            "team_id": team_id,
            "cash": dec_str(portfolio.cash),
            "positions": {
                s: {"quantity": dec_str(p.quantity), "avg_cost": dec_str(p.avg_cost)}
                for s, p in sorted(portfolio.positions.items())
            },
            "market_value": dec_str(portfolio.market_value(self.prices)),
            "realized_pnl": dec_str(portfolio.realized_pnl),
            "fill_count": portfolio.fill_count,
        }
        self.store.append_snapshot(team_id, at, snapshot)

    def record_error(self, team_id: str, phase: str, message: str, signal: Any = None) -> None:
        """Append one line to the team's errors.jsonl."""
        record = {"timestamp": iso(self.now()), "phase": phase, "message": message}
        record["signal"] = signal
        self.store.append_error(team_id, record)
