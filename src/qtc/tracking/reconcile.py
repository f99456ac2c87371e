"""Reconciliation (DESIGN §4): one listing per 500 open orders, by-id lookups only for misses."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from qtc.brokers.base import MAX_LIST_LIMIT, Broker
from qtc.domain.enums import OrderStatus
from qtc.domain.errors import BrokerError, OrderNotFound, TransientBrokerError
from qtc.domain.orders import BrokerOrder, Order
from qtc.tracking.applier import Applier, Outcome

LOST_AFTER = 3  # consecutive real "not found" answers before an order is closed as lost
_MICROSECOND = timedelta(microseconds=1)


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
) -> tuple[list[BrokerOrder], int]:
    """Every open order at the broker, paging on submission time; returns (orders, requests).

    `expected` are the client order ids held open locally: once a full page has shown all of
    them, paging stops instead of asking for a page that is probably empty, so a cycle costs
    ceil(N/500) requests. (Orders nobody here placed that sit beyond that point are then
    reported by a later cycle.)

    An order sharing the last timestamp of a full page may lie just beyond it, so the next page
    then starts one microsecond earlier and repeats are dropped. If more orders share one
    instant than a page holds, the rest of that instant is skipped: those are fetched by id
    as misses.
    """
    orders: list[BrokerOrder] = []
    seen: set[str] = set()
    seen_clients: set[str] = set()
    after: datetime | None = None
    requests = 0
    while True:
        page = await broker.list_orders("open", after, page_size)
        requests += 1
        for o in page:
            if o.broker_order_id not in seen:
                seen.add(o.broker_order_id)
                seen_clients.add(o.client_order_id)
                orders.append(o)
        if len(page) < page_size:
            return orders, requests
        if expected and all(cid in seen_clients for cid in expected):
            return orders, requests
        last = page[-1].submitted_at
        tied = len(page) > 1 and page[-2].submitted_at == last
        nxt = last - _MICROSECOND if tied else last
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
        log: logging.Logger,
        page_size: int = MAX_LIST_LIMIT,
    ) -> None:
        self.broker = broker
        self.page_size = page_size
        self.applier = applier
        self.log = log

    async def run(self, in_flight: Collection[str]) -> ReconcileResult:
        """One cycle; orders in `in_flight` (submit not yet answered) are left alone."""
        applier = self.applier
        held_open = list(applier.book.all_open())
        result = ReconcileResult(checked=len(held_open))
        self.log.info("Reconciling %d pending orders with broker", len(held_open))
        try:
            listed, result.requests = await list_open_orders(
                self.broker, self.page_size, [o.order_id for o in held_open]
            )
        except TransientBrokerError as e:
            self.log.warning("Reconciliation stopped: listing open orders failed: %s", e)
            result.complete = False
            return result
        result.listed = len(listed)
        find = applier.book.find_for_broker
        held = applier.ledger.held
        seen: set[str] = set()
        for snap in listed:
            order = find(snap.client_order_id, snap.broker_order_id)
            if order is not None:
                seen.add(order.order_id)
                if order.not_found_count:
                    order.not_found_count = 0
                # the common case by far: nothing new about this order
                if (
                    order.status is snap.status
                    and order.filled_qty == snap.filled_qty
                    and order.broker_order_id == snap.broker_order_id
                    and held(order.order_id).qty == order.filled_qty
                ):
                    continue
            result.add(applier.apply(snap, None, snap.updated_at))
        for order in held_open:
            if order.order_id in seen or order.order_id in in_flight or not order.is_open:
                continue
            await self._fetch_missing(order, result)
        self.applier.flush()
        self.log.info(
            "Reconciliation complete: %d orders updated, %d filled", result.updated, result.filled
        )
        return result

    async def heal_write_ahead(self) -> None:
        """At load: orders stored as pending_new whose submit never answered (the process died
        in between) are adopted if the broker has them, rejected if it does not."""
        for order in [o for o in self.applier.book.all_open() if o.broker_order_id is None]:
            try:
                snap = await self.broker.get_order_by_client_id(order.order_id)
            except OrderNotFound:
                self.log.warning(
                    "Order %s never reached the broker (its submit got no answer); rejecting it",
                    order.order_id,
                )
                self.applier.close_locally(
                    order,
                    OrderStatus.REJECTED,
                    "never reached the broker: its submit got no answer and the broker has no "
                    "order with this client order id",
                )
                continue
            except BrokerError as e:
                self.log.warning("Could not look up order %s at load: %s", order.order_id, e)
                continue
            self.log.info("Adopting order %s found at broker after restart", order.order_id)
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
        except BrokerError as e:
            # a timeout is no strike; an unreadable answer must not stop the other orders
            self.log.warning("Could not look up order %s: %s", order.order_id, e)
            return
        order.not_found_count = 0
        result.add(self.applier.apply(snap, None, snap.updated_at))

    def _not_found(self, order: Order, result: ReconcileResult) -> None:
        order.not_found_count += 1
        self.applier.mark_dirty(order.team_id)
        if order.not_found_count < LOST_AFTER:
            self.log.warning(
                "Order %s not found at broker (%d/%d)",
                order.order_id,
                order.not_found_count,
                LOST_AFTER,
            )
            return
        if order.status is OrderStatus.PENDING_CANCEL:
            # only the broker says how a pending cancel ended
            self.log.warning(
                "Order %s (pending_cancel) still not found at broker; keeping it open",
                order.order_id,
            )
            return
        reason = f"not found at broker after {order.not_found_count} lookups"
        self.log.warning("Order %s lost: %s; closing it as rejected", order.order_id, reason)
        self.applier.close_locally(order, OrderStatus.REJECTED, reason)
        result.lost += 1
        result.updated += 1
