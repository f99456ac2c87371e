"""Broker trouble at the worst moments: lost submit answers, cancels racing fills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.support.wrapping import Wrapped

from qtc.domain.enums import OrderStatus
from qtc.domain.errors import BrokerUnavailable, OrderClosed
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.domain.signals import OrderIntent

from .conftest import intent

D = Decimal


def buy(qty: str, price: str, order_type: str = "limit") -> OrderIntent:
    return intent(qty=qty, price=price, order_type=order_type, tif="gtc")


class FlakyBroker(Wrapped):
    """The simulated broker whose submit answers are lost (after or before the exchange)."""

    def __init__(self, inner: Any, reaches_exchange: bool) -> None:
        super().__init__(inner)
        self.reaches_exchange = reaches_exchange
        self.submits: list[str] = []

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        self.submits.append(request.client_order_id)
        if self.reaches_exchange:
            await self.inner.submit(request)
        raise BrokerUnavailable("read timeout")


async def test_lost_answer_is_looked_up_never_resubmitted(kit: Any) -> None:
    broker = FlakyBroker(kit.broker, reaches_exchange=True)
    tracker = kit.new_tracker(broker=broker)
    await tracker.load()
    order = await tracker.submit("alpha", buy("10", "100.5"))  # marketable: fills at once
    await kit.pump()
    assert broker.submits == [order.order_id]
    assert order.status is OrderStatus.FILLED and order.broker_order_id is not None
    assert [r.quantity for r in kit.ledger("alpha")] == [D(10)]
    assert len([o for o in kit.engine.executions if o.client_order_id == order.order_id]) == 1


async def test_submit_that_never_arrived_is_rejected_after_three_lookups(kit: Any) -> None:
    broker = FlakyBroker(kit.broker, reaches_exchange=False)
    tracker = kit.new_tracker(broker=broker)
    await tracker.load()
    order = await tracker.submit("alpha", buy("10", "99"))
    assert order.status is OrderStatus.PENDING_NEW  # unknown yet: still reserving its cash
    assert tracker.free_cash("alpha") == D(100000) - D(990)
    await tracker.reconcile()
    assert order.status is OrderStatus.PENDING_NEW
    await tracker.reconcile()
    assert order.status is OrderStatus.REJECTED
    assert tracker.free_cash("alpha") == D(100000)
    assert broker.submits == [order.order_id]
    assert kit.lines("alpha", "orders.jsonl")[0]["status"] == "rejected"


async def test_cancel_losing_the_race_to_a_fill_reports_the_fill(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    order = await tracker.submit("alpha", buy("10", "99.5"))
    await kit.pump()
    kit.feed(1, kit.bar(1, "99.5", volume="500"))  # fills all 10
    kit.skip()  # ...but the tracker has not heard yet
    with pytest.raises(OrderClosed) as closed:
        await tracker.cancel("alpha", order.order_id)
    assert closed.value.status == "filled"
    assert [(r.quantity, r.execution_price) for r in kit.ledger("alpha")] == [(D(10), D("99.5"))]
    assert tracker.portfolio("alpha").quantity("AAPL") == D(10)
