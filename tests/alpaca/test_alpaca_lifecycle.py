"""The tracker through alpaca-py against the local exchange on the paths nobody tried: Alpaca's
rarer statuses, a status nobody knows, a cancel the venue rejects, parallel cancels, and
listing pages with orders QTC cannot read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.requests import LimitOrderRequest
from tests.support.files import jsonl_lines

from qtc.clock import RealClock
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import Order
from qtc.domain.signals import OrderIntent
from qtc.store.files import FileStore
from qtc.tracking.tracker import OrderTracker
from qtc.views.orders import order_view

from .conftest import KEY, SECRET, LocalExchange

TEAMS = {"alpha": Decimal(100000), "beta": Decimal(100000)}


def limit_buy(price: str, qty: str = "5") -> OrderIntent:
    return OrderIntent(
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(qty),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal(price),
        requested_price=Decimal(price),
    )


def market_buy(qty: str = "3") -> OrderIntent:
    return OrderIntent(
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(qty),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        limit_price=None,
        requested_price=Decimal(100),
    )


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def tracking(
    exchange: LocalExchange, tmp_path: Path
) -> AsyncIterator[Callable[..., OrderTracker]]:
    """Build trackers over one data dir, each with its own AlpacaBroker; all closed at the end."""
    built: list[OrderTracker] = []

    def build() -> OrderTracker:
        tracker = OrderTracker(
            store=FileStore(tmp_path),
            broker=exchange.broker(),
            clock=RealClock(),
            teams=TEAMS,
            flush_delay=0.0,
            logger=logging.getLogger("qtc.tracker.alpaca-lifecycle"),
        )
        built.append(tracker)
        return tracker

    yield build
    for tracker in built:
        await tracker.close()
        await tracker.broker.close()


def override(exchange: LocalExchange, order: Order, status: str | None) -> None:
    exchange.admin.post(
        f"/qtc/orders/{order.broker_order_id}/status", json={"status": status}
    ).raise_for_status()


ODD_STATUSES = [
    "pending_review",
    "accepted_for_bidding",
    "held",
    "suspended",
    "calculated",
    "stopped",
    "done_for_day",
    "pending_replace",
]


async def test_alpacas_rarer_statuses_are_tracked_and_an_unknown_one_quarantines_one_order(
    exchange: LocalExchange, tracking: Callable[..., OrderTracker], tmp_path: Path
) -> None:
    tracker = tracking()
    await tracker.load()
    odd = [await tracker.submit("alpha", limit_buy("90", "1")) for _ in ODD_STATUSES]
    unknown = await tracker.submit("beta", limit_buy("91"))
    filled = await tracker.submit("alpha", market_buy())
    for order, status in zip(odd, ODD_STATUSES, strict=True):
        override(exchange, order, status)
    override(exchange, unknown, "restated_by_venue")
    exchange.advance(1)

    for _ in range(2):  # the second cycle must not log or record the quarantine again
        result = await tracker.reconcile()
        assert result.complete
    assert [tracker.get_order("alpha", o.order_id).status.value for o in odd] == ODD_STATUSES
    assert all(tracker.get_order("alpha", o.order_id).is_open for o in odd)
    assert tracker.get_order("alpha", filled.order_id).status is OrderStatus.FILLED
    trades = jsonl_lines(tmp_path / "team" / "alpha" / "trades.jsonl")
    assert sum(Decimal(t["quantity"]) for t in trades) == Decimal(3)
    held = tracker.get_order("beta", unknown.order_id)
    assert held is not None and held.is_open
    shown = order_view(held)
    assert shown["broker_status"] == "restated_by_venue"
    errors = jsonl_lines(tmp_path / "team" / "beta" / "errors.jsonl")
    assert len(errors) == 1 and errors[0]["phase"] == "order"
    assert unknown.order_id in errors[0]["message"] and "restated_by_venue" in errors[0]["message"]

    # a restart over the same files works, and the order is still held aside
    await tracker.close()
    again = tracking()
    result = await again.load()
    assert result.complete
    held = again.get_order("beta", unknown.order_id)
    assert held is not None and held.broker_status == "restated_by_venue" and held.is_open

    # once the broker reports a status QTC knows, the order is tracked as any other
    override(exchange, unknown, None)
    await again.reconcile()
    held = again.get_order("beta", unknown.order_id)
    assert held is not None and held.broker_status is None and held.status is OrderStatus.NEW
    assert "broker_status" not in order_view(held)


async def test_a_cancel_the_venue_rejects_returns_the_order_to_work_and_fills_still_land(
    exchange: LocalExchange, tracking: Callable[..., OrderTracker], tmp_path: Path
) -> None:
    tracker = tracking()
    await tracker.load()
    stream = asyncio.create_task(tracker.run_stream())
    try:
        order = await tracker.submit("alpha", limit_buy("101", "80"))
        exchange.faults(reject_cancels=1)
        answered = await tracker.cancel("alpha", order.order_id)
        assert answered.is_open
        working = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
        await eventually(lambda: order.status in working, "the order back at work")
        filled_before = order.filled_qty

        # it keeps filling at the venue, and the fills are booked
        exchange.advance(1)
        await tracker.reconcile()
        assert order.status is OrderStatus.PARTIALLY_FILLED
        booked = sum(
            Decimal(t["quantity"])
            for t in jsonl_lines(tmp_path / "team" / "alpha" / "trades.jsonl")
        )
        assert booked == order.filled_qty > filled_before

        # a later cancel is sent to the broker again, and this time it holds
        deletes = exchange.stats()["per_endpoint"].get("DELETE /v2/orders/{order_id}", 0)
        await tracker.cancel("alpha", order.order_id)
        await eventually(lambda: order.status is OrderStatus.CANCELED, "the second cancel")
        after = exchange.stats()["per_endpoint"]["DELETE /v2/orders/{order_id}"]
        assert after == deletes + 1
        assert order.filled_qty == booked
    finally:
        stream.cancel()
        await asyncio.gather(stream, return_exceptions=True)


async def test_parallel_cancels_of_one_order_make_one_broker_call(
    exchange: LocalExchange, tracking: Callable[..., OrderTracker]
) -> None:
    tracker = tracking()
    await tracker.load()
    order = await tracker.submit("alpha", limit_buy("90"))
    before = exchange.stats()["per_endpoint"]
    answers = await asyncio.gather(*(tracker.cancel("alpha", order.order_id) for _ in range(20)))
    after = exchange.stats()["per_endpoint"]
    assert all(a.order_id == order.order_id for a in answers)
    assert order.status is OrderStatus.PENDING_CANCEL or not order.is_open

    def delta(endpoint: str) -> int:
        return int(after.get(endpoint, 0)) - int(before.get(endpoint, 0))

    assert delta("DELETE /v2/orders/{order_id}") == 1
    assert delta("GET /v2/orders/{order_id}") == 0


async def test_orders_qtc_cannot_read_never_shorten_a_listing_page(
    exchange: LocalExchange, tracking: Callable[..., OrderTracker]
) -> None:
    tracker = tracking()
    await tracker.load()
    by_hand = TradingClient(KEY, SECRET, paper=True, url_override=exchange.url)
    placed = by_hand.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=AlpacaTif.GTC,
            limit_price=80,
            client_order_id="placed-by-hand-1",
        )
    )
    exchange.admin.post(
        f"/qtc/orders/{placed.id}/status", json={"status": "venue_special"}
    ).raise_for_status()
    ours = []
    for _ in range(5):
        exchange.advance(1)  # each order at its own instant, as on Alpaca
        ours.append(await tracker.submit("alpha", limit_buy("90", "1")))
    tracker.reconciler.page_size = 2
    result = await tracker.reconcile()
    assert result.complete
    assert result.fetched == 0, "a held order was fetched by id: a page came back short"
    assert result.unattributed == 1
    assert result.listed == 6
    assert all(tracker.get_order("alpha", o.order_id).status is OrderStatus.NEW for o in ours)
