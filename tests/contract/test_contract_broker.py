"""The behaviours every Broker must show, run against each venue of conftest.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import pytest

from qtc.brokers.base import Broker
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import OrderNotCancelable, OrderNotFound, OrderRejected
from qtc.domain.ids import new_order_id
from qtc.domain.orders import BrokerOrder, OrderRequest, StreamConnected, TradeUpdate

# The venues' market (see conftest.market_bars): AAPL 99..101 with 5 shares a minute for us.
STOCK = "AAPL"
CRYPTO = "BTC/USD"


class Venue(Protocol):
    """What the tests use of a venue fixture: the broker, and time for its exchange."""

    broker: Broker

    async def advance(self, minutes: int = 1) -> None: ...

    async def executions(self, client_order_id: str) -> list[dict[str, Any]]: ...


async def wait_for(condition: Any, timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll an async condition until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


def order(
    qty: str,
    *,
    limit: str | None = None,
    symbol: str = STOCK,
    side: Side = Side.BUY,
    tif: TimeInForce = TimeInForce.DAY,
    client_order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id or new_order_id("team1"),
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        time_in_force=tif,
        limit_price=None if limit is None else Decimal(limit),
    )


async def status_of(venue: Venue, placed: BrokerOrder) -> BrokerOrder:
    return await venue.broker.get_order(placed.broker_order_id)


async def test_a_marketable_order_fills_at_the_market(venue: Venue) -> None:
    placed = await venue.broker.submit(order("3"))
    assert placed.client_order_id and placed.broker_order_id
    filled = await wait_for(
        lambda: _when(status_of(venue, placed), lambda o: o.status is OrderStatus.FILLED)
    )
    assert filled.filled_qty == Decimal(3)
    assert filled.filled_avg_price == Decimal(100)
    executions = await venue.executions(placed.client_order_id)
    assert sum(Decimal(e["qty"]) for e in executions) == Decimal(3)


async def test_a_resting_limit_order_fills_partially_over_minutes(venue: Venue) -> None:
    placed = await venue.broker.submit(order("12", limit="99.50"))
    assert placed.status is OrderStatus.NEW
    assert placed.filled_qty == 0
    seen = []
    for _ in range(3):
        await venue.advance(1)
        now = await status_of(venue, placed)
        seen.append((now.status, now.filled_qty))
    assert seen == [
        (OrderStatus.PARTIALLY_FILLED, Decimal(5)),
        (OrderStatus.PARTIALLY_FILLED, Decimal(10)),
        (OrderStatus.FILLED, Decimal(12)),
    ]
    final = await status_of(venue, placed)
    assert final.filled_avg_price == Decimal("99.5")


async def test_cancel_keeps_the_fills_and_ends_the_order(venue: Venue) -> None:
    placed = await venue.broker.submit(order("12", limit="99.50"))
    await venue.advance(1)
    await venue.broker.cancel(placed.broker_order_id)
    canceled = await wait_for(
        lambda: _when(status_of(venue, placed), lambda o: o.status is OrderStatus.CANCELED)
    )
    assert canceled.filled_qty == Decimal(5)
    await venue.advance(1)
    assert (await status_of(venue, placed)).filled_qty == Decimal(5)


async def test_cancel_of_a_closed_order_is_not_cancelable(venue: Venue) -> None:
    placed = await venue.broker.submit(order("1"))
    await wait_for(
        lambda: _when(status_of(venue, placed), lambda o: o.status is OrderStatus.FILLED)
    )
    with pytest.raises(OrderNotCancelable) as info:
        await venue.broker.cancel(placed.broker_order_id)
    assert info.value.status == OrderStatus.FILLED


async def test_an_order_is_found_by_either_id(venue: Venue) -> None:
    request = order("2", limit="90")
    placed = await venue.broker.submit(request)
    by_id = await venue.broker.get_order(placed.broker_order_id)
    by_client_id = await venue.broker.get_order_by_client_id(request.client_order_id)
    assert by_id.broker_order_id == by_client_id.broker_order_id == placed.broker_order_id
    assert by_id.client_order_id == by_client_id.client_order_id == request.client_order_id
    assert (by_id.symbol, by_id.side, by_id.qty, by_id.limit_price) == (
        STOCK,
        Side.BUY,
        Decimal(2),
        Decimal(90),
    )
    assert by_id.order_type is OrderType.LIMIT
    assert by_id.time_in_force is TimeInForce.DAY


async def test_unknown_ids_are_not_found(venue: Venue) -> None:
    with pytest.raises(OrderNotFound):
        await venue.broker.get_order(str(uuid.uuid4()))
    with pytest.raises(OrderNotFound):
        await venue.broker.get_order_by_client_id("team1-NOSUCHORDER")
    with pytest.raises(OrderNotFound):
        await venue.broker.cancel(str(uuid.uuid4()))


async def test_listing_pages_strictly_after_the_last_submission(venue: Venue) -> None:
    placed = []
    for _ in range(5):
        placed.append(await venue.broker.submit(order("1", limit="90")))
        await venue.advance(1)  # distinct submission times, as paging on time needs
    filled = await venue.broker.submit(order("1"))
    pages: list[list[str]] = []
    after = None
    for _ in range(10):
        page = await venue.broker.list_orders("open", after=after, limit=2)
        if not page:
            break
        pages.append([o.client_order_id or "" for o in page])
        after = page[-1].submitted_at
    assert pages == [
        [placed[0].client_order_id, placed[1].client_order_id],
        [placed[2].client_order_id, placed[3].client_order_id],
        [placed[4].client_order_id],
    ]
    strictly_after = await venue.broker.list_orders("all", after=placed[2].submitted_at, limit=500)
    assert [o.client_order_id for o in strictly_after] == [
        placed[3].client_order_id,
        placed[4].client_order_id,
        filled.client_order_id,
    ]
    closed = await venue.broker.list_orders("closed")
    assert [o.client_order_id for o in closed] == [filled.client_order_id]
    assert all(o.status is OrderStatus.NEW for o in await venue.broker.list_orders("open"))
    later = placed[4].submitted_at + timedelta(days=1)
    assert await venue.broker.list_orders("all", after=later) == []


async def test_an_unknown_symbol_is_rejected(venue: Venue) -> None:
    with pytest.raises(OrderRejected) as info:
        await venue.broker.submit(order("1", symbol="NOPE"))
    assert "NOPE" in info.value.reason


async def test_an_order_beyond_buying_power_is_rejected(venue: Venue) -> None:
    with pytest.raises(OrderRejected) as info:
        await venue.broker.submit(order("5000", limit="99.50"))
    assert "buying power" in info.value.reason
    assert await venue.broker.list_orders("all") == []


async def test_a_reused_client_order_id_is_rejected_and_the_first_order_stands(
    venue: Venue,
) -> None:
    first = await venue.broker.submit(order("2", limit="90"))
    with pytest.raises(OrderRejected):
        await venue.broker.submit(order("7", limit="91", client_order_id=first.client_order_id))
    await venue.broker.cancel(first.broker_order_id)
    with pytest.raises(OrderRejected):
        await venue.broker.submit(order("7", limit="91", client_order_id=first.client_order_id))
    standing = await venue.broker.get_order_by_client_id(first.client_order_id)
    assert (standing.broker_order_id, standing.qty) == (first.broker_order_id, Decimal(2))
    assert len(await venue.broker.list_orders("all")) == 1


async def test_the_update_stream_tells_the_whole_life_of_orders(venue: Venue) -> None:
    updates = venue.broker.updates()
    first = await asyncio.wait_for(anext(updates), 10)
    assert isinstance(first, StreamConnected)
    resting = await venue.broker.submit(order("12", limit="99.50"))
    other = await venue.broker.submit(order("0.5", limit="1", symbol=CRYPTO, tif=TimeInForce.GTC))
    await venue.advance(3)
    await venue.broker.cancel(other.broker_order_id)
    events: list[tuple[str, TradeEvent, Decimal]] = []
    while len(events) < 6:
        item = await asyncio.wait_for(anext(updates), 10)
        assert isinstance(item, TradeUpdate)
        events.append((item.order.client_order_id, item.event, item.order.filled_qty))
        if item.event is TradeEvent.FILL:
            assert item.qty == Decimal(2)
            assert item.price == Decimal("99.5")
            assert item.execution_id
    mine = resting.client_order_id
    assert events == [
        (mine, TradeEvent.NEW, Decimal(0)),
        (other.client_order_id, TradeEvent.NEW, Decimal(0)),
        (mine, TradeEvent.PARTIAL_FILL, Decimal(5)),
        (mine, TradeEvent.PARTIAL_FILL, Decimal(10)),
        (mine, TradeEvent.FILL, Decimal(12)),
        (other.client_order_id, TradeEvent.CANCELED, Decimal(0)),
    ]


async def _when(value: object, predicate: object) -> object:
    """Await `value` and return it if `predicate(result)` holds, else None (for wait_for)."""
    result = await value  # type: ignore[misc]
    return result if predicate(result) else None  # type: ignore[operator]


async def test_fractional_crypto_quantities_and_prices_survive_exactly(venue: Venue) -> None:
    placed = await venue.broker.submit(
        order("0.123456789", limit="49000.01", symbol=CRYPTO, tif=TimeInForce.GTC)
    )
    again = await venue.broker.get_order(placed.broker_order_id)
    assert again.qty == Decimal("0.123456789")
    assert again.limit_price == Decimal("49000.01")
    assert again.time_in_force is TimeInForce.GTC
