"""Making a Change durable, then applying it, then telling the listeners.

The order of every step is the durability rule: the fill's ledger line first, then the order's
fields (`change.apply_change`, the one place they are set), then the closed order's history line
and its open-orders file; only once all that holds are the listeners told (log lines, live
events, the portfolio snapshot after a fill). A write that fails acknowledges nothing: the order
stays as it was, the run is flagged degraded, and the next report retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from qtc.domain.enums import OrderStatus
from qtc.domain.fills import Fill
from qtc.domain.orders import Order
from qtc.domain.times import iso
from qtc.store.base import Store
from qtc.tracking.book import OrderIndex
from qtc.tracking.change import Change, apply_change
from qtc.tracking.checkpoint import Checkpoints
from qtc.tracking.ledger import Ledger
from qtc.views.portfolio import snapshot_record


class ChangeListener(Protocol):
    """Told about each change once it is durable."""

    def fill_booked(self, order: Order, fill: Fill, record: Mapping[str, Any]) -> None:
        """A fill's ledger line is on disk (`record` is that line)."""

    def order_changed(self, order: Order, before: OrderStatus, filled: bool) -> None:
        """The order changed in a way teams see (`before`: its status until now; `filled`: it
        has just become filled)."""


class Recorder:
    """The tracker's one writer of order state: ledger, history, open-orders files, errors and
    snapshots, each through the store, each failure reported as the run's degraded state."""

    def __init__(
        self,
        *,
        book: OrderIndex,
        ledger: Ledger,
        store: Store,
        now: Callable[[], datetime],
        log: logging.Logger,
        flush_delay: float = 0.0,
        listeners: Iterable[ChangeListener] = (),
    ) -> None:
        self.book = book
        self.ledger = ledger
        self.store = store
        self.now = now
        self.log = log
        self.flush_delay = flush_delay
        self.listeners = list(listeners)
        self.checkpoints = Checkpoints(
            book=book,
            store=store,
            log=log,
            delay=flush_delay,
            failed=self._failed,
            recovered=self._recovered,
        )
        self._unclosed: set[str] = set()  # closed orders whose history line failed
        self._failures: dict[str, str] = {}  # kind of durable write -> why it fails

    def listen(self, listener: ChangeListener) -> None:
        """Tell `listener` about every durable change from now on."""
        self.listeners.append(listener)

    def record(self, order: Order, change: Change) -> bool:
        """Make `change` durable, apply it, then tell the listeners; False when a write failed
        (nothing was acknowledged and the order is exactly as it was)."""
        if order.order_id in self._unclosed:
            self._close(order)
        if change.empty:
            return True
        was_open, before = order.is_open, order.status
        record: Mapping[str, Any] | None = None
        if change.fill is not None:
            broker_id = change.broker_order_id or order.broker_order_id
            try:
                record = self.ledger.book(order.team_id, order, change.fill, broker_id).to_json()
            except OSError as e:
                self._failed("ledger", f"cannot append to {order.team_id}'s trades.jsonl: {e}")
                return False
            self._recovered("ledger")
        apply_change(order, change)
        if change.broker_order_id is not None:
            self.book.index_broker_id(order)
        if change.visible and not order.is_open:
            # a late fill on a closed order writes an updated history line (the last one wins)
            self._close(order)
            if order.status is OrderStatus.REJECTED and was_open:
                self.record_error(
                    order.team_id, "order", f"order {order.order_id} rejected: {order.reason}"
                )
        if was_open:
            self.mark_dirty(order.team_id, order)
        if change.fill is not None and record is not None:
            for listener in self.listeners:
                listener.fill_booked(order, change.fill, record)
        if change.visible:
            filled = change.status is OrderStatus.FILLED
            for listener in self.listeners:
                listener.order_changed(order, before, filled)
        return True

    # the open-orders files, batched (see checkpoint.py)

    def mark_dirty(self, team_id: str, order: Order | None = None) -> None:
        """The team's open orders changed (`order`: only that one): rewrite its file once the
        current burst is over."""
        if order is None:
            self.book.touch_team(team_id)
        else:
            self.book.touch(order)
        self.checkpoints.mark_dirty(team_id, order)

    def flush_soon(self) -> None:
        """Rewrite the changed teams' open-orders files (and sync the lines written) on the
        writer thread, once the current burst is over."""
        self.checkpoints.soon()

    def flush(self) -> None:
        """Rewrite the changed teams' open-orders files and sync the lines written, now."""
        self.checkpoints.now()

    def close(self) -> None:
        """The last flush; the writer thread stops."""
        self.checkpoints.close()

    def write_ahead(self, orders: Sequence[Order]) -> None:
        """Make a batch of new orders durable now, with one sync for all, before the broker
        hears of any (OSError: none was recorded, and none may be sent)."""
        try:
            self.store.append_intents(orders)
        except OSError as e:
            why = f"cannot append {len(orders)} new orders to intents.jsonl: {e}"
            self._failed("intents", why)
            raise
        self._recovered("intents")
        for order in orders:
            self.mark_dirty(order.team_id, order)

    # history

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
        self.mark_dirty(order.team_id, order)

    def retry_unclosed(self) -> None:
        """Try again to close the orders whose history line could not be written."""
        for order_id in sorted(self._unclosed):
            order = self.book.find(order_id)
            if order is None:
                self._unclosed.discard(order_id)
            else:
                self._close(order)

    # snapshots and errors

    def write_snapshot(self, team_id: str, prices: Mapping[str, Decimal]) -> None:
        """Append the team's portfolio snapshot at `prices` (after each fill and each minute)."""
        at = self.now()
        record = snapshot_record(team_id, self.ledger.portfolios[team_id], prices, at)
        try:
            self.store.append_snapshot(team_id, at, record)
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
        self.checkpoints.mark_unsynced()

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
