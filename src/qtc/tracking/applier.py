"""Broker reports in, Changes out: find (or adopt) the order, decide the change, record it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from qtc.domain.decimals import ZERO, dec_str
from qtc.domain.enums import OrderStatus
from qtc.domain.ids import new_order_id, team_of_order_id
from qtc.domain.orders import BrokerOrder, Order
from qtc.tracking import change as changes
from qtc.tracking.book import OrderIndex
from qtc.tracking.change import Change, decide
from qtc.tracking.ledger import Ledger
from qtc.tracking.logfields import about
from qtc.tracking.recorder import Recorder


@dataclass(frozen=True, slots=True)
class _Unbooked:
    """A stream execution whose ledger line could not be written (a full disk): its own id and
    price, kept so that the order's next report books it exactly instead of at a price derived
    from the broker's rounded average."""

    execution_id: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal  # the order's cumulative filled quantity with it


@dataclass(slots=True)
class Outcome:
    """What applying one broker snapshot did."""

    changed: bool = False
    filled: bool = False  # the order became filled
    fills: int = 0  # ledger lines appended
    adopted: bool = False
    unattributed: bool = False


class Applier:
    """Turns each broker report into a Change (`change.decide`, pure) and hands it to the
    Recorder, which makes it durable before anything is acknowledged."""

    def __init__(
        self,
        *,
        book: OrderIndex,
        ledger: Ledger,
        recorder: Recorder,
        teams: Mapping[str, Decimal],
        now: Callable[[], datetime],
        log: logging.Logger,
    ) -> None:
        self.book = book
        self.ledger = ledger
        self.recorder = recorder
        self.teams = teams
        self.now = now
        self.log = log
        self._unattributed: set[str] = set()
        self._unbooked: dict[str, list[_Unbooked]] = {}  # order id -> oldest first

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
        if order.notional is not None and snap.qty > 0 and snap.qty != order.quantity:
            order.quantity = snap.qty  # what the amount came to, in the broker's word
            self.recorder.mark_dirty(order.team_id, order)
        if order.order_id in self._unbooked:
            self._book_unbooked(order, snap, at, out)
        held = self.ledger.held(order.order_id)
        change = decide(
            order, snap, status, at, held, execution_id=execution_id, qty=qty, price=price
        )
        if not self.commit(order, change, out):
            out.changed = out.adopted = False
            if change.fill is not None and execution_id and qty is not None and price is not None:
                # a stream execution: its own id and price are kept for the next report
                waiting = self._unbooked.setdefault(order.order_id, [])
                waiting.append(_Unbooked(execution_id, qty, price, snap.filled_qty))
        for leg in snap.legs:
            self._apply_leg(order, leg, at, poll=status is None)
        return out

    def _book_unbooked(self, order: Order, snap: BrokerOrder, at: datetime, out: Outcome) -> None:
        """Book, each at its own price, the stream executions that could not be written before,
        while each is exactly the next step of what the ledger holds; the rest of the report's
        increase (none, usually) is then derived as always."""
        waiting = self._unbooked[order.order_id]
        while waiting:
            first = waiting[0]
            held = self.ledger.held(order.order_id)
            if first.cum_qty <= held.qty:  # booked since (a replay of its event)
                waiting.pop(0)
                continue
            if first.cum_qty > snap.filled_qty:
                return  # a report older than the execution: kept for a newer one
            if held.qty + first.qty != first.cum_qty:
                waiting.clear()  # not the next step: what the broker reports decides
                break
            step = replace(snap, filled_qty=first.cum_qty, status=order.status)
            change = decide(
                order,
                step,
                order.status,
                at,
                held,
                execution_id=first.execution_id,
                qty=first.qty,
                price=first.price,
            )
            if not self.commit(order, change, out):
                return  # the disk is still full: kept for the next report
            waiting.pop(0)
        del self._unbooked[order.order_id]

    def _apply_leg(self, parent: Order, snap: BrokerOrder, at: datetime, *, poll: bool) -> None:
        """Track a bracket/oco/oto leg as the parent team's order (the broker names its own
        client id for a leg, so the leg gets one of ours and is found by its broker id).

        A stream event's copy of the legs is as old as the event: it only introduces a leg;
        the leg's own events (or a poll) move it."""
        leg = self.book.find_for_broker(snap.client_order_id, snap.broker_order_id)
        if leg is not None and not poll:
            return
        if leg is None:
            leg = Order(
                order_id=new_order_id(parent.team_id, int(snap.submitted_at.timestamp() * 1000)),
                team_id=parent.team_id,
                symbol=snap.symbol,
                side=snap.side,
                quantity=snap.qty,
                order_type=snap.order_type,
                time_in_force=snap.time_in_force,
                limit_price=snap.limit_price,
                requested_price=snap.limit_price or snap.stop_price or parent.requested_price,
                created_at=snap.submitted_at,
                updated_at=snap.submitted_at,
                broker_order_id=snap.broker_order_id,
                stop_price=snap.stop_price,
                trail_price=snap.trail_price,
                trail_percent=snap.trail_percent,
                order_class=parent.order_class,
                parent_id=parent.order_id,
                extra=dict(parent.extra),
            )
            try:
                self.recorder.write_ahead([leg])  # durable before its fills can be booked
            except OSError:
                return  # the parent's next report brings the leg again
            self.book.add(leg)
            self.log.info(
                "Tracking %s leg %s of order %s (%s %s)",
                parent.order_class.value,
                leg.order_id,
                parent.order_id,
                leg.order_type.value,
                leg.side.value,
                extra=about(leg),
            )
        self.apply(snap, None, at)

    def commit(self, order: Order, change: Change, out: Outcome | None = None) -> bool:
        """Record `change` (durable first); False when a write failed and nothing changed."""
        if not self.recorder.record(order, change):
            return False
        if out is not None and change.fill is not None:
            out.fills += 1
        if out is not None and change.visible:
            out.changed = True
            out.filled = change.status is OrderStatus.FILLED
        return True

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
        self.recorder.record_error(
            order.team_id,
            "order",
            f"order {order.order_id} quarantined: the broker reports status "
            f"{order.broker_status!r}, which QTC does not know ({reason})",
        )
        return True

    def strike(self, order: Order) -> None:
        """Count one more real "not found" answer for the order."""
        self.commit(order, changes.strike(order, self.now()))

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
        self.recorder.mark_dirty(team_id, order)
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
