"""Reconciliation (DESIGN §4): one listing per 500 open orders, by-id lookups only for misses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from qtc.brokers.base import MAX_LIST_LIMIT, Broker
from qtc.domain.enums import OrderStatus
from qtc.domain.errors import BrokerError, OrderNotFound
from qtc.domain.errors import UnreadableOrder as UnreadableOrderError
from qtc.domain.fills import HeldFills
from qtc.domain.ids import team_of_order_id
from qtc.domain.orders import BrokerOrder, Order, UnreadableOrder
from qtc.tracking.applier import Applier, Outcome
from qtc.tracking.book import OrderIndex
from qtc.tracking.change import lost_verdict
from qtc.tracking.logfields import about
from qtc.tracking.recorder import Recorder

Listed = BrokerOrder | UnreadableOrder

LOST_AFTER = 3  # consecutive real "not found" answers before an order is closed as lost
_MICROSECOND = timedelta(microseconds=1)
# the loop turns after this much work: an order compared costs 1, a change applied (its
# ledger line, history, events) _APPLY_WORK
_YIELD_AFTER = 1000
_APPLY_WORK = 50


@dataclass(slots=True)
class ReconcileResult:
    """What one reconciliation cycle did."""

    checked: int = 0  # open orders held locally at the start
    requests: int = 0  # broker calls made
    listed: int = 0  # open orders the broker listed
    updated: int = 0  # orders whose status or fills changed
    filled: int = 0  # orders that became filled
    fills: int = 0  # ledger lines appended
    fetched: int = 0  # orders absent from the listing, fetched by id
    lost: int = 0  # orders closed as rejected after repeated real "not found"
    adopted: int = 0  # orders found at the broker that were not held locally
    unattributed: int = 0  # broker orders no team placed (logged, never booked)
    quarantined: int = 0  # team orders newly held for a status QTC cannot read
    complete: bool = True  # False when the listing failed and the cycle stopped early

    def add(self, outcome: Outcome) -> None:
        """Count what applying one snapshot did."""
        self.updated += outcome.changed
        self.filled += outcome.filled
        self.fills += outcome.fills
        self.adopted += outcome.adopted
        self.unattributed += outcome.unattributed


async def list_open_orders(
    broker: Broker,
    page_size: int = MAX_LIST_LIMIT,
    expected: Collection[str] = (),
) -> tuple[list[Listed], int]:
    """Every open order at the broker, paging on submission time; returns (orders, requests).

    `expected` are the client order ids held open locally: once a full page has shown all of
    them, paging stops instead of asking for a page that is probably empty, so a cycle costs
    ceil(N/500) requests. (Orders nobody here placed that sit beyond that point are then
    reported by a later cycle.)

    Each next page starts one microsecond before the last submission time seen, so an order
    sharing that instant with the page's last one is never skipped (repeats are dropped by id).
    Unreadable orders stay in the page, so they never shorten it. Only when more orders share
    one instant than a page holds is the rest of that instant skipped: those are fetched by id
    as misses.
    """
    orders: list[Listed] = []
    seen: set[str] = set()
    unseen = set(expected)  # held open here, not listed yet
    await asyncio.sleep(0)
    after: datetime | None = None
    requests = 0
    while True:
        page = await broker.list_orders("open", after, page_size)
        requests += 1
        for o in page:
            if o.broker_order_id not in seen:
                seen.add(o.broker_order_id)
                if o.client_order_id is not None:
                    unseen.discard(o.client_order_id)
                orders.append(o)
        if len(page) < page_size:
            return orders, requests
        if expected and not unseen:
            return orders, requests
        times = [o.submitted_at for o in page if o.submitted_at is not None]
        if not times:
            return orders, requests  # nothing to page on: the misses are fetched by id
        last = max(times)
        nxt = last - _MICROSECOND
        if after is not None and nxt <= after:
            nxt = last  # a whole page at one instant: move past it
        if after is not None and nxt <= after:
            return orders, requests  # the broker ignored `after`: stop rather than loop
        after = nxt


class Reconciler:
    """Brings the tracker's open orders in line with the broker."""

    def __init__(
        self,
        broker: Broker,
        applier: Applier,
        recorder: Recorder,
        book: OrderIndex,
        held: Callable[[str], HeldFills],
        teams: Collection[str],
        log: logging.Logger,
        page_size: int = MAX_LIST_LIMIT,
    ) -> None:
        self.broker = broker
        self.page_size = page_size
        self.applier = applier
        self.recorder = recorder
        self.book = book
        self.held = held
        self.teams = teams
        self.log = log
        self._reported: set[str] = set()  # unreadable orders already logged

    async def run(self, in_flight: Collection[str]) -> ReconcileResult:
        """One cycle; orders in `in_flight` (submit not yet answered) are left alone."""
        held_open = list(self.book.all_open())
        result = ReconcileResult(checked=len(held_open))
        self.log.info("Reconciling %d pending orders with %s...", len(held_open), self._venue)
        await asyncio.sleep(0)
        expected = {o.order_id for o in held_open}
        try:
            listed, result.requests = await list_open_orders(self.broker, self.page_size, expected)
        except BrokerError as e:
            self.log.warning("Reconciliation stopped: listing open orders failed: %s", e)
            result.complete = False
            return result
        result.listed = len(listed)
        find = self.book.find_for_broker
        held = self.held
        seen: set[str] = set()
        work = 0
        for snap in listed:
            work += 1
            if work >= _YIELD_AFTER:
                work = 0
                await asyncio.sleep(0)  # a long listing never holds the loop (minute, API)
            if isinstance(snap, UnreadableOrder):
                order = self._unreadable(snap, result)
                if order is not None:
                    seen.add(order.order_id)
                continue
            order = find(snap.client_order_id, snap.broker_order_id)
            if order is not None:
                seen.add(order.order_id)
                # the common case by far: nothing new about this order
                if (
                    order.status is snap.status
                    and order.filled_qty == snap.filled_qty
                    and order.broker_order_id == snap.broker_order_id
                    and not order.not_found_count
                    and order.broker_status is None
                    and held(order.order_id).qty == order.filled_qty
                ):
                    continue
            work += _APPLY_WORK
            result.add(self.applier.apply(snap, None, snap.updated_at))
        for n, order in enumerate(held_open, start=1):
            if n % (10 * _YIELD_AFTER) == 0:
                await asyncio.sleep(0)
            if order.order_id in seen or order.order_id in in_flight or not order.is_open:
                continue
            await self._fetch_missing(order, result)
        self.recorder.retry_unclosed()
        self.recorder.flush_soon()
        self.log.info(
            "Reconciliation complete: %d orders updated, %d filled", result.updated, result.filled
        )
        return result

    @property
    def _venue(self) -> str:
        return {"alpaca": "Alpaca", "simulated": "the simulated exchange"}.get(
            self.broker.name, self.broker.name
        )

    def _unreadable(self, item: UnreadableOrder, result: ReconcileResult) -> Order | None:
        """An order the broker lists that QTC cannot read: a team's order is quarantined (alone:
        the cycle goes on), one nobody here placed is reported once and never booked."""
        order = None
        if item.client_order_id is not None:
            order = self.book.find_for_broker(item.client_order_id, item.broker_order_id)
        else:
            order = self.book.find(item.broker_order_id)
        if order is not None:
            if self.applier.quarantine(order, item.raw_status, item.reason):
                result.quarantined += 1
            return order
        if item.broker_order_id in self._reported:
            return None
        self._reported.add(item.broker_order_id)
        team_id = team_of_order_id(item.client_order_id or "")
        if team_id is not None and team_id in self.teams:
            self.log.error(
                "Order %s of team %s at the broker cannot be read (%s); not adopted",
                item.client_order_id,
                team_id,
                item.reason,
            )
            self.recorder.record_error(
                team_id,
                "order",
                f"order {item.client_order_id} quarantined: the broker reports status "
                f"{item.raw_status!r}, which QTC cannot read ({item.reason})",
            )
        else:
            result.unattributed += 1
            self.log.warning(
                "Unattributed order at broker QTC cannot read (not booked): id=%s "
                "client_order_id=%s: %s",
                item.broker_order_id,
                item.client_order_id,
                item.reason,
            )
        return None

    async def heal_write_ahead(self) -> None:
        """At load: orders stored as pending_new whose submit never answered (the process died
        in between) are adopted if the broker has them, rejected if it does not."""
        for order in [o for o in self.book.all_open() if o.broker_order_id is None]:
            try:
                snap = await self.broker.get_order_by_client_id(order.order_id)
            except OrderNotFound:
                self.log.warning(
                    "Order %s never reached the broker (its submit got no answer); rejecting it",
                    order.order_id,
                    extra=about(order),
                )
                self.applier.close_locally(
                    order,
                    OrderStatus.REJECTED,
                    "never reached the broker: its submit got no answer and the broker has no "
                    "order with this client order id",
                )
                continue
            except UnreadableOrderError as e:
                self.applier.quarantine(order, e.order.raw_status, e.order.reason)
                continue
            except BrokerError as e:
                self.log.warning(
                    "Could not look up order %s at load: %s", order.order_id, e, extra=about(order)
                )
                continue
            self.log.info(
                "Adopting order %s found at broker after restart",
                order.order_id,
                extra=about(order),
            )
            self.applier.apply(snap, None, snap.updated_at)

    async def _fetch_missing(self, order: Order, result: ReconcileResult) -> None:
        """An open order the listing did not show has ended (or was lost): ask for it by id."""
        result.fetched += 1
        result.requests += 1
        try:
            if order.broker_order_id:
                snap = await self.broker.get_order(order.broker_order_id)
            else:
                snap = await self.broker.get_order_by_client_id(order.order_id)
        except OrderNotFound:
            self._not_found(order, result)
            return
        except UnreadableOrderError as e:
            if self.applier.quarantine(order, e.order.raw_status, e.order.reason):
                result.quarantined += 1
            return
        except BrokerError as e:
            # a timeout is no strike; an unreadable answer must not stop the other orders
            self.log.warning(
                "Could not look up order %s: %s", order.order_id, e, extra=about(order)
            )
            return
        result.add(self.applier.apply(snap, None, snap.updated_at))

    def _not_found(self, order: Order, result: ReconcileResult) -> None:
        self.applier.strike(order)
        verdict = lost_verdict(order, LOST_AFTER)
        if verdict == "wait":
            self.log.warning(
                "Order %s not found at broker (%d/%d)",
                order.order_id,
                order.not_found_count,
                LOST_AFTER,
                extra=about(order),
            )
            return
        if verdict == "keep":
            self.log.warning(
                "Order %s (pending_cancel) still not found at broker; keeping it open",
                order.order_id,
                extra=about(order),
            )
            return
        reason = f"not found at broker after {order.not_found_count} lookups"
        self.log.warning(
            "Order %s lost: %s; closing it as rejected", order.order_id, reason, extra=about(order)
        )
        self.applier.close_locally(order, OrderStatus.REJECTED, reason)
        result.lost += 1
        result.updated += 1
