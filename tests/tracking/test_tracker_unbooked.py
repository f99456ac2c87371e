"""A stream fill whose ledger line cannot be written (a full disk) is booked later at its own
execution id and price, not at a price derived from the broker's rounded average."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from qtc.clock import ManualClock
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.signals import OrderIntent
from qtc.store.records import TradeRecord
from qtc.tracking.tracker import OrderTracker

from .conftest import T0
from .model_venue import FillableDiskStore, ModelVenue

D = Decimal
BUY = OrderIntent(
    symbol="AAPL",
    side=Side.BUY,
    quantity=D(10),
    order_type=OrderType.LIMIT,
    time_in_force=TimeInForce.GTC,
    limit_price=D(101),
    requested_price=D(101),
)


def _ledger(data: Path) -> list[TradeRecord]:
    path = data / "team" / "alpha" / "trades.jsonl"
    return [TradeRecord.from_json(json.loads(line)) for line in path.read_text().splitlines()]


async def test_fills_written_after_a_full_disk_keep_their_own_prices(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    venue = ModelVenue(clock.now)
    store = FillableDiskStore(tmp_path)
    tracker = OrderTracker(
        store=store,
        broker=venue,
        clock=clock,
        teams={"alpha": D(100_000)},
        logger=logging.getLogger("qtc.tracker.unbooked"),
    )
    tracker.set_prices({"AAPL": D(100)})
    await tracker.load()
    order = await tracker.submit("alpha", BUY)
    (vo,) = venue.orders.values()
    venue.stream.clear()  # the `new` event: nothing to learn from it

    # two executions whose average the venue reports rounded to 1e-7
    venue.execute(vo, D(3), D("100.12345678"))
    venue.execute(vo, D(4), D("100.98765432"))
    store.full = True
    for event in list(venue.stream):
        clock.set(clock.now() + timedelta(seconds=1))
        await tracker.apply_update(event)
    assert order.filled_qty == 0  # nothing booked, nothing acknowledged

    store.full = False
    await tracker.reconcile()  # the poll sees 7 filled at the rounded average
    assert order.filled_qty == D(7)
    booked = [(r.execution_id, r.quantity, r.execution_price) for r in _ledger(tmp_path)]
    assert booked == [("x2", D(3), D("100.12345678")), ("x3", D(4), D("100.98765432"))]
    assert tracker.portfolio("alpha").cash == D(100_000) - (
        D(3) * D("100.12345678") + D(4) * D("100.98765432")
    )
    await tracker.close()
