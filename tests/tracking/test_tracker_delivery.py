"""Duplicates, reordering and stream-versus-poll: every way of hearing about fills agrees."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.domain.orders import TradeUpdate
from qtc.domain.signals import OrderIntent
from qtc.store.files import FileStore
from qtc.store.records import TradeRecord
from qtc.tracking.tracker import OrderTracker

from .conftest import intent

D = Decimal
TOLERANCE = D("0.000001")  # averages are rounded to 1e-9 by the exchange


def limit(qty: str, price: str, side: str = "buy", tif: str = "gtc") -> OrderIntent:
    return intent(qty=qty, price=price, side=side, tif=tif)


async def scenario(kit: Any) -> list[str]:
    """Several orders filled over several minutes, some canceled after partial fills."""
    await kit.tracker.load()
    ids = []
    for qty, price in [("40", "99.5"), ("25", "99.8"), ("60", "99.2"), ("15", "101")]:
        ids.append((await kit.tracker.submit("alpha", limit(qty, price))).order_id)
    for minute, (open_, volume) in enumerate([("99.9", "150"), ("99.4", "230"), ("99.1", "170")]):
        kit.feed(minute + 1, kit.bar(minute + 1, open_, low="99", volume=volume))
    await kit.engine_cancel_open()
    return ids


def totals(records: list[TradeRecord]) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for r in records:
        out[r.order_id][0] += r.quantity
        out[r.order_id][1] += r.quantity * r.execution_price
    return {k: (v[0], v[1]) for k, v in out.items()}


def assert_same_money(
    a: dict[str, tuple[Decimal, Decimal]], b: dict[str, tuple[Decimal, Decimal]]
) -> None:
    assert a.keys() == b.keys()
    for order_id in a:
        assert a[order_id][0] == b[order_id][0], order_id
        assert abs(a[order_id][1] - b[order_id][1]) <= TOLERANCE, order_id


def fresh_tracker(kit: Any, folder: Path) -> tuple[OrderTracker, FileStore]:
    store = FileStore(folder)
    tracker = OrderTracker(
        store=store, broker=kit.broker, clock=kit.clock, teams={"alpha": D(100000)}
    )
    return tracker, store


async def feed(tracker: OrderTracker, updates: list[TradeUpdate]) -> None:
    for update in updates:
        await tracker.apply_update(update)
    tracker.flush()


async def test_duplicates_reordering_and_polls_give_the_same_ledger(
    kit: Any, tmp_path: Path
) -> None:
    async def engine_cancel_open() -> None:
        kit.engine.cancel_all(kit.clock.now())

    kit.engine_cancel_open = engine_cancel_open
    ids = await scenario(kit)
    await kit.pump()  # the reference: every event once, in order
    reference = kit.ledger("alpha")
    exchange: dict[str, tuple[Decimal, Decimal]] = {}
    for e in kit.engine.executions:
        qty, notional = exchange.get(e.client_order_id, (D(0), D(0)))
        exchange[e.client_order_id] = (qty + e.qty, notional + e.qty * e.price)
    assert set(exchange) <= set(ids) and len(exchange) >= 3
    # in order, the ledger is the exchange's executions line for line
    assert [(r.order_id, r.quantity, r.execution_price) for r in reference] == [
        (e.client_order_id, e.qty, e.price) for e in kit.engine.executions
    ]

    twice, twice_store = fresh_tracker(kit, tmp_path / "twice")
    await feed(twice, [u for u in kit.events for _ in range(2)])

    backwards, backwards_store = fresh_tracker(kit, tmp_path / "backwards")
    await feed(backwards, list(reversed(kit.events)) + list(kit.events))

    # half the events by stream, then the stream drops: the rest is learned by polling
    polled, polled_store = fresh_tracker(kit, tmp_path / "polled")
    half = len(kit.events) // 2
    await feed(polled, kit.events[:half])
    assert all(polled.get_order("alpha", i) is not None for i in ids)
    result = await polled.reconcile()
    assert result.fetched >= 1 and result.fills >= 1
    await feed(polled, kit.events)  # the stale stream events come in after all: no effect

    def lines(records: list[TradeRecord]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        return [(r.order_id, r.quantity, r.execution_price, r.filled_qty) for r in records]

    assert lines(twice_store.load_trades("alpha")) == lines(reference)
    for store in (backwards_store, polled_store):
        assert_same_money(totals(store.load_trades("alpha")), exchange)
    assert_same_money(totals(reference), exchange)
    for tracker in (twice, backwards, polled):
        assert tracker.portfolio("alpha").quantity("AAPL") == kit.tracker.portfolio(
            "alpha"
        ).quantity("AAPL")
        assert (
            abs(tracker.portfolio("alpha").cash - kit.tracker.portfolio("alpha").cash) <= TOLERANCE
        )
        assert {o.order_id: o.status for o in tracker.list_orders("alpha", "all", 10)} == {
            o.order_id: o.status for o in kit.tracker.list_orders("alpha", "all", 10)
        }
