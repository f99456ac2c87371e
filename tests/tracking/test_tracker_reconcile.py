"""Reconciliation cost and paging: one listing per page of open orders, by-id only for misses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tests.support.waiting import eventually
from tests.support.wrapping import Wrapped

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.domain.signals import OrderIntent
from qtc.tracking.reconcile import ReconcileResult, list_open_orders
from qtc.tracking.tracker import RECONCILE_BUDGET_PER_MINUTE, reconcile_wait

D = Decimal


class Counting(Wrapped):
    """The simulated broker, counting the requests the tracker makes."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in ("list_orders", "get_order", "get_order_by_client_id", "submit", "cancel"):

            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return await attr(*args, **kwargs)

            return counted
        return attr


def resting(n: int) -> OrderIntent:
    return OrderIntent(
        symbol="AAPL",
        side=Side.BUY,
        quantity=D(1),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=D(90) + D(n) / 100,
        requested_price=D(90),
    )


def engine_order(kit: Any, n: int) -> BrokerOrder:
    request = OrderRequest(
        client_order_id=f"elsewhere-{n}",
        symbol="AAPL",
        side=Side.BUY,
        qty=D(1),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=D(80),
    )
    return kit.engine.submit(request, kit.clock.now())


async def test_listing_pages_on_submission_time_and_survives_ties(kit: Any) -> None:
    def place(n: int, tick: bool = True) -> None:
        engine_order(kit, n)
        if tick:
            kit.clock.advance(timedelta(milliseconds=1))

    for n in range(7):
        place(n)
    place(7, tick=False)  # 7 and 8 share an instant across the boundary of the third page
    for n in range(8, 12):
        place(n)
    broker = Counting(kit.broker)
    orders, requests = await list_open_orders(broker, page_size=3)
    ids = [o.client_order_id or "" for o in orders]
    assert sorted(ids) == sorted(f"elsewhere-{n}" for n in range(12))
    assert len(set(ids)) == len(ids)
    # each page after the first starts one microsecond before the last one's instant
    assert requests == len(broker.calls) == 7


async def test_a_tie_between_the_last_order_of_a_page_and_the_next_is_never_lost(
    kit: Any,
) -> None:
    engine_order(kit, 0)
    kit.clock.advance(timedelta(milliseconds=1))
    engine_order(kit, 1)
    kit.clock.advance(timedelta(milliseconds=1))
    engine_order(kit, 2)  # the last of the first page ...
    engine_order(kit, 3)  # ... and the first beyond it share one instant
    orders, _ = await list_open_orders(Counting(kit.broker), page_size=3)
    assert sorted(o.client_order_id for o in orders if o.client_order_id) == [
        f"elsewhere-{n}" for n in range(4)
    ]


async def test_listing_moves_past_an_instant_fuller_than_a_page(kit: Any) -> None:
    for n in range(5):  # five at one instant, pages of three
        engine_order(kit, n)
    kit.clock.advance(timedelta(milliseconds=1))
    for n in range(5, 7):
        engine_order(kit, n)
    orders, requests = await list_open_orders(Counting(kit.broker), page_size=3)
    ids = {o.client_order_id for o in orders}
    # the instant's overflow cannot be paged to (it is looked up by id as a miss); later ones can
    assert {"elsewhere-5", "elsewhere-6"} <= ids and len(ids) == 5
    assert requests == 3


async def test_a_cycle_costs_one_request_per_page_plus_the_misses(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    orders = []
    for n in range(10):
        orders.append(await tracker.submit("alpha", resting(n)))
        kit.clock.advance(timedelta(milliseconds=1))
    broker = Counting(kit.broker)
    tracker.reconciler.broker = broker
    tracker.reconciler.page_size = 4

    result = await tracker.reconcile()  # nothing changed: 3 pages, no lookups
    assert broker.calls == ["list_orders"] * 3
    assert result.requests == 3 and result.updated == 0

    kit.feed(1, kit.bar(1, "90.05", low="90.02", volume="20"))  # two shares traded
    kit.engine.cancel(orders[0].broker_order_id, kit.clock.now())
    kit.engine.cancel(orders[9].broker_order_id, kit.clock.now())
    kit.skip()  # the stream was down
    broker.calls.clear()
    result = await tracker.reconcile()
    # 6 still open: 2 pages; the 2 canceled and 2 filled are no longer listed: fetched by id
    assert broker.calls == ["list_orders"] * 2 + ["get_order"] * 4
    assert result.fetched == 4 and result.requests == len(broker.calls)
    assert orders[0].status is OrderStatus.CANCELED and orders[9].status is OrderStatus.CANCELED
    filled = [o for o in orders if o.status is OrderStatus.FILLED]
    assert sum(o.filled_qty for o in orders) == D(2) == sum(r.quantity for r in kit.ledger("alpha"))
    assert len(filled) == 2
    assert result.filled == 2
    await eventually(
        lambda: len(kit.lines("alpha", "pending_orders.jsonl")) == 6,
        what="pending_orders.jsonl to hold the 6 open orders",
    )
    assert {h["status"] for h in kit.lines("alpha", "orders.jsonl")} == {"canceled", "filled"}


async def test_cleanup_drops_old_closed_orders_from_memory_only(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    done = await tracker.submit("alpha", resting(0))
    still_open = await tracker.submit("alpha", resting(1))
    await tracker.cancel("alpha", done.order_id)
    await kit.pump()
    assert tracker.cleanup(kit.clock.now() + timedelta(days=6)) == 0
    assert tracker.cleanup(kit.clock.now() + timedelta(days=8)) == 1
    assert tracker.book.find(done.order_id) is None, "gone from memory"
    # ... yet still found, in the history file (the detail and the history routes read these)
    from_file = tracker.get_order("alpha", done.order_id)
    assert from_file is not None and from_file.status is OrderStatus.CANCELED
    assert tracker.get_order("beta", done.order_id) is None
    listed = tracker.list_orders("alpha", "all", 10)
    assert [o.order_id for o in listed] == [still_open.order_id, done.order_id]
    assert tracker.get_order("alpha", still_open.order_id) is still_open
    assert [h["order_id"] for h in kit.lines("alpha", "orders.jsonl")] == [done.order_id]
    assert [p["order_id"] for p in kit.lines("alpha", "pending_orders.jsonl")] == [
        still_open.order_id
    ]


def test_the_periodic_reconcile_keeps_to_its_request_budget_however_many_orders_are_open() -> None:
    many = ReconcileResult(requests=200)  # 100,000 open orders: 200 listing pages a cycle
    wait = reconcile_wait(30.0, many)
    assert many.requests * 60 / wait <= RECONCILE_BUDGET_PER_MINUTE < 200
    assert reconcile_wait(30.0, ReconcileResult(requests=20)) == 30.0  # 10,000 open
    assert reconcile_wait(30.0, None) == 30.0  # a failed cycle: back to the interval
