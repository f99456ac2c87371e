"""The live stream task: events applied as they come, a reconnect triggers a reconcile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.support.waiting import eventually

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.signals import OrderIntent

D = Decimal


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    await eventually(condition, timeout)


async def test_stream_applies_events_and_a_reconnect_catches_up(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    task = asyncio.create_task(tracker.run_stream())
    try:
        order = await tracker.submit(
            "alpha",
            OrderIntent(
                symbol="AAPL",
                side=Side.BUY,
                quantity=D(100),
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                limit_price=D("99.5"),
                requested_price=D("99.5"),
            ),
        )
        kit.feed(1, kit.bar(1, "99.5", volume="300"))  # 30
        await until(lambda: order.filled_qty == D(30))
        await until((kit.team_dir("alpha") / "pending_orders.jsonl").exists)

        kit.broker.pause_stream()  # these events are lost
        kit.feed(2, kit.bar(2, "99.5", volume="500"))  # 50 more
        await asyncio.sleep(0)
        assert order.filled_qty == D(30)
        kit.broker.resume_stream()  # StreamConnected: reconcile learns the rest
        await until(lambda: order.filled_qty == D(80))
        assert order.status is OrderStatus.PARTIALLY_FILLED
        assert [r.quantity for r in kit.ledger("alpha")] == [D(30), D(50)]
        assert tracker.portfolio("alpha") == kit.replay("alpha")
    finally:
        await kit.broker.close()
        await asyncio.wait_for(task, 5)
        await tracker.close()
