"""The SimulatedBroker: the Broker port over the engine, with its in-process update stream."""

import asyncio
from decimal import Decimal as D

import pytest

from qtc.brokers.base import Broker
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.enums import OrderStatus, TradeEvent
from qtc.domain.errors import OrderNotFound, OrderRejected
from qtc.domain.orders import StreamConnected, TradeUpdate


@pytest.fixture
def broker(kit):
    clock = ManualClock(kit.at(1, 10))
    return SimulatedBroker(kit.engine, clock)


async def take(stream, count):
    """The next `count` items of the stream, each within a deadline."""
    return [await asyncio.wait_for(anext(stream), timeout=2) for _ in range(count)]


def describe(items):
    return [
        "connected" if isinstance(i, StreamConnected) else (i.event.value, str(i.order.filled_qty))
        for i in items
    ]


def test_it_is_a_broker(broker):
    port: Broker = broker
    assert port.name == "simulated"


async def test_stream_delivers_fills_that_happen_inside_submit(kit, broker):
    stream = broker.updates()

    order = await broker.submit(kit.request(qty="150"))

    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("100"))
    items = await take(stream, 3)
    assert describe(items) == ["connected", ("new", "0"), ("partial_fill", "100")]
    fill = items[2]
    assert isinstance(fill, TradeUpdate)
    assert (fill.qty, fill.price) == (D("100"), D("100.02"))
    assert fill.execution_id == kit.engine.executions[0].execution_id

    await broker.advance(kit.at(1), {"AAPL": kit.bar(1, "101")})
    [last] = await take(stream, 1)
    assert (last.event, last.qty, last.price) == (TradeEvent.FILL, D("50"), D("101.03"))
    assert last.order.filled_avg_price == D("100.356666667")
    await broker.close()


async def test_cancel_and_expiry_arrive_on_the_stream(kit, broker):
    stream = broker.updates()
    resting = await broker.submit(kit.request(order_type="limit", limit="90"))
    day = await broker.submit(kit.request(qty="120"))

    await broker.cancel(resting.broker_order_id)
    expired = await broker.end_session(kit.at(390))

    assert [o.broker_order_id for o in expired] == [day.broker_order_id]
    items = await take(stream, 6)
    assert describe(items) == [
        "connected",
        ("new", "0"),
        ("new", "0"),
        ("partial_fill", "100"),
        ("canceled", "0"),
        ("expired", "100"),
    ]
    assert (await broker.get_order(day.broker_order_id)).status is OrderStatus.EXPIRED
    await broker.close()


async def test_lookups_and_listing_go_to_the_engine(kit, broker):
    order = await broker.submit(kit.request(order_type="limit", limit="90", cid="team1-Q"))

    assert await broker.get_order_by_client_id("team1-Q") == order
    assert await broker.list_orders("open") == [order]
    assert await broker.list_orders("closed") == []
    with pytest.raises(OrderNotFound):
        await broker.get_order("missing")
    with pytest.raises(OrderRejected):
        await broker.submit(kit.request(cid="team1-Q"))


async def test_list_orders_caps_the_limit_at_500(kit, broker):
    for i in range(3):
        await broker.submit(kit.request(order_type="limit", limit="90", cid=f"team1-{i}"))
    assert len(await broker.list_orders("open", limit=10_000)) == 3
    assert len(await broker.list_orders("open", limit=2)) == 2


async def test_a_dropped_stream_loses_events_and_reconnects(kit, broker):
    stream = broker.updates()
    broker.pause_stream()
    lost = await broker.submit(kit.request(qty="1"))
    broker.resume_stream()
    await broker.submit(kit.request(qty="2"))

    items = await take(stream, 4)
    assert describe(items) == ["connected", "connected", ("new", "0"), ("fill", "2")]
    # what the stream missed is still at the broker, for reconciliation to find
    assert (await broker.get_order(lost.broker_order_id)).filled_qty == D("1")
    await broker.close()


async def test_close_ends_every_stream(kit, broker):
    stream = broker.updates()
    await broker.close()

    assert describe([item async for item in stream]) == ["connected"]
    assert describe([item async for item in broker.updates()]) == ["connected"]
