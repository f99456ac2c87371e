"""Recording what the broker says about an order: durable first, then applied, then told."""

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
from qtc.domain.fills import Fill
from qtc.domain.ids import team_of_order_id
from qtc.domain.orders import BrokerOrder, Order
from qtc.domain.times import iso
from qtc.store.base import Store
from qtc.store.records import order_fields
from qtc.tracking import change as changes
from qtc.tracking.book import OrderIndex
from qtc.tracking.change import Change, apply_change, decide
from qtc.tracking.events import EventHub
from qtc.tracking.ledger import Ledger
from qtc.tracking.logfields import about

# the broker acknowledging what was asked: the order's own lines already said it (DEBUG)
_ACKNOWLEDGED = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.NEW,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_REPLACE,
    }
)


@dataclass(slots=True)
class Outcome:
    """What applying one broker snapshot did."""

    changed: bool = False
    filled: bool = False  # the order became filled
    fills: int = 0  # ledger lines appended
    adopted: bool = False
    unattributed: bool = False


class Applier:
    """Makes each Change durable (ledger line, history line, open-orders file), then applies it
    (`change.apply_change`, the one place an order's fields are set) and notifies listeners."""

    def __init__(
        self,
        *,
        book: OrderIndex,
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
        self._unclosed: set[str] = set()  # closed orders whose history line failed
        self._failures: dict[str, str] = {}  # kind of durable write -> why it fails

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
            try:
                self.store.save_open_orders(
                    team_id, self.book.open_orders(team_id), new_order=False
                )
            except OSError as e:
                self._dirty.add(team_id)  # rewritten at the next flush
                self._failed("pending", f"cannot rewrite {team_id}'s pending_orders.jsonl: {e}")
                continue
            self._recovered("pending")

    def write_ahead(self, order: Order) -> None:
        """Persist a new order's open set now, before the broker hears of it (OSError: it was
        not recorded, and must not be sent)."""
        try:
            self.store.save_open_orders(order.team_id, self.book.open_orders(order.team_id))
        except OSError as e:
            self._failed("pending", f"cannot rewrite {order.team_id}'s pending_orders.jsonl: {e}")
            raise
        self._recovered("pending")
        self._dirty.discard(order.team_id)

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
        held = self.ledger.held(order.order_id)
        change = decide(
            order, snap, status, at, held, execution_id=execution_id, qty=qty, price=price
        )
        if not self.commit(order, change, out):
            out.changed = out.adopted = False
        return out

    def commit(self, order: Order, change: Change, out: Outcome | None = None) -> bool:
        """Make `change` durable (its ledger line first), then apply it and tell listeners.

        When a write fails nothing is acknowledged: the order stays exactly as it was (open,
        its fill unbooked), the run is flagged degraded, and the next report retries it.
        """
        out = out if out is not None else Outcome()
        if order.order_id in self._unclosed:
            self._close(order)
        if change.empty:
            return True
        was_open, before = order.is_open, order.status
        if change.fill is not None:
            broker_id = change.broker_order_id or order.broker_order_id
            try:
                record = self.ledger.book(order.team_id, order, change.fill, broker_id)
            except OSError as e:
                self._failed("ledger", f"cannot append to {order.team_id}'s trades.jsonl: {e}")
                return False
            self._recovered("ledger")
            out.fills += 1
            self._fill_booked(order, change.fill, record.to_json())
        apply_change(order, change)
        if change.broker_order_id is not None:
            self.book.index_broker_id(order)
        if change.visible:
            out.changed = True
            out.filled = change.status is OrderStatus.FILLED
            self._after_change(order, was_open, out, before)
        elif was_open:
            self.mark_dirty(order.team_id)
        return True

    def _fill_booked(self, order: Order, fill: Fill, record: Mapping[str, Any]) -> None:
        # DEBUG: the "Updated order" line that follows says it too, with the order's progress
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
        if self.hub.wants(order.team_id):
            self.hub.publish(order.team_id, "fill", record, fill.timestamp)
        self.write_snapshot(order.team_id)

    def _after_change(
        self, order: Order, was_open: bool, out: Outcome, before: OrderStatus
    ) -> None:
        # INFO when the order's status moves on (or a fill lands on a closed order); an
        # acknowledgement, or one more partial fill of a partially filled order, is DEBUG
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
        if out.filled:
            self.log.info(
                "Order %s FILLED: %s @ %s (requested: %s)",
                order.order_id,
                order.symbol,
                dec_str(order.filled_avg_price),
                dec_str(order.requested_price),
                extra=about(order),
            )
        if not order.is_open:
            # a late fill on a closed order writes an updated history line (the last one wins)
            self._close(order)
            if order.status is OrderStatus.REJECTED and was_open:
                self.record_error(
                    order.team_id, "order", f"order {order.order_id} rejected: {order.reason}"
                )
        if was_open:
            self.mark_dirty(order.team_id)
        self.publish_order(order)

    def _close(self, order: Order) -> None:
        """Write the closed order's history line, then take it out of the open set; if the line
        cannot be written the order stays in the open set (and on disk) and is retried."""
        try:
            self.store.append_order_history(order)
        except OSError as e:
            self._unclosed.add(order.order_id)
            self._failed("history", f"cannot append to {order.team_id}'s orders.jsonl: {e}")
            return
        self._recovered("history")
        self._unclosed.discard(order.order_id)
        self.book.close(order)
        self.mark_dirty(order.team_id)

    def retry_unclosed(self) -> None:
        """Try again to close the orders whose history line could not be written."""
        for order_id in sorted(self._unclosed):
            order = self.book.find(order_id)
            if order is None:
                self._unclosed.discard(order_id)
            else:
                self._close(order)

    def publish_order(self, order: Order) -> None:
        """Tell the team's live subscribers how the order stands now."""
        if self.hub.wants(order.team_id):
            self.hub.publish(order.team_id, "order", order_fields(order), order.updated_at)

    def close_locally(self, order: Order, status: OrderStatus, reason: str) -> None:
        """End an order the broker will never report on (rejected at submit, or lost)."""
        self.commit(order, changes.close(order, status, reason, self.now()))

    def cancel_requested(self, order: Order) -> None:
        """The broker accepted a cancel request: `pending_cancel` until it says how it ended."""
        self.commit(order, changes.cancel_requested(order, self.now()))

    def quarantine(self, order: Order, raw_status: str | None, reason: str) -> bool:
        """Hold an order the broker reports in a status QTC cannot read; True the first time
        (it is then logged and written to the team's errors.jsonl)."""
        step = changes.quarantine(order, raw_status, self.now())
        if step.empty:
            return False
        self.commit(order, step)
        self.log.error(
            "Order %s quarantined: the broker reports it as %r (%s); it stays open and is not "
            "acted on until the broker reports a status QTC knows",
            order.order_id,
            order.broker_status,
            reason,
            extra=about(order),
        )
        self.record_error(
            order.team_id,
            "order",
            f"order {order.order_id} quarantined: the broker reports status "
            f"{order.broker_status!r}, which QTC does not know ({reason})",
        )
        return True

    def strike(self, order: Order) -> None:
        """Count one more real "not found" answer for the order."""
        self.commit(order, changes.strike(order, self.now()))

    # health

    @property
    def degraded(self) -> str | None:
        """Why the run is degraded (durable writes failing), None when healthy."""
        if not self._failures:
            return None
        return "; ".join(f"{kind}: {why}" for kind, why in sorted(self._failures.items()))

    def _failed(self, kind: str, why: str) -> None:
        if kind not in self._failures:
            self.log.error("DEGRADED: %s; the change is not acknowledged and will be retried", why)
        self._failures[kind] = why

    def _recovered(self, kind: str) -> None:
        if self._failures.pop(kind, None) is not None:
            self.log.warning("Recovered: %s writes succeed again", kind)

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
            extra=about(order),
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
        try:
            self.store.append_snapshot(team_id, at, snapshot)
        except OSError as e:
            self._failed("snapshots", f"cannot append {team_id}'s portfolio snapshot: {e}")
            return
        self._recovered("snapshots")

    def record_error(self, team_id: str, phase: str, message: str, signal: Any = None) -> None:
        """Append one line to the team's errors.jsonl."""
        record = {"timestamp": iso(self.now()), "phase": phase, "message": message}
        record["signal"] = signal
        try:
            self.store.append_error(team_id, record)
        except OSError as e:
            self._failed("errors", f"cannot append to {team_id}'s errors.jsonl: {e}")
            self.log.error("Error of team %s not written: %s: %s", team_id, phase, message)
            return
        self._recovered("errors")
