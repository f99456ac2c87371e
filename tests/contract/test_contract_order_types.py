"""Every Alpaca order type and class behaves the same on each venue (the simulated broker, and
alpaca-py against the local exchange), on MSFT's known path (conftest.mover_bar): flat at 100
within 99..101 for minutes 0-9, up a dollar a minute to 110 by minute 19, down to 100 by
minute 29, a gap to 95 at minute 30; SPY's market opens at minute 40 (conftest.late_bar),
at 52 after closing at 50 every minute before. The venue starts with minute 0 traded; `advance(n)`
trades the next n minutes. Half spread 0: a triggered stop fills at its stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.ids import new_order_id
from qtc.domain.orders import BrokerOrder, OrderRequest, ReplaceRequest

from .conftest import LATE, LATE_OPEN, MOVER
from .test_contract_broker import Venue, status_of


def request(
    qty: str,
    order_type: OrderType = OrderType.MARKET,
    *,
    side: Side = Side.BUY,
    limit: str | None = None,
    stop: str | None = None,
    **fields: Any,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=new_order_id("team1"),
        symbol=MOVER,
        side=side,
        qty=Decimal(qty),
        order_type=order_type,
        time_in_force=TimeInForce.GTC,
        limit_price=None if limit is None else Decimal(limit),
        stop_price=None if stop is None else Decimal(stop),
        **fields,
    )


async def fills(venue: Venue, order: BrokerOrder) -> list[tuple[Decimal, Decimal]]:
    return [
        (Decimal(e["qty"]), Decimal(e["price"]))
        for e in await venue.executions(order.client_order_id)
    ]


async def holding(venue: Venue, qty: str) -> None:
    """Buy `qty` MSFT at once (100 at the open of the flat minutes)."""
    bought = await venue.broker.submit(request(qty))
    assert bought.status is OrderStatus.FILLED


async def test_a_stop_buy_triggers_on_the_way_up_and_fills_at_its_stop(venue: Venue) -> None:
    placed = await venue.broker.submit(request("10", OrderType.STOP, stop="103"))
    assert placed.status is OrderStatus.NEW and placed.stop_price == 103
    await venue.advance(11)  # up to minute 11: high 102.20
    assert (await status_of(venue, placed)).filled_qty == 0
    await venue.advance(1)  # minute 12: 102 -> 101.80 -> 103.20 -> 103
    assert (await status_of(venue, placed)).status is OrderStatus.FILLED
    assert await fills(venue, placed) == [(10, 103)]


async def test_a_triggered_stop_takes_what_the_bar_allows_then_the_next_open(
    venue: Venue,
) -> None:
    placed = await venue.broker.submit(request("150", OrderType.STOP, stop="103"))
    await venue.advance(12)  # triggered in minute 12: 100 of the bar's volume are ours
    partly = await status_of(venue, placed)
    assert (partly.status, partly.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 100)
    await venue.advance(1)  # a triggered stop is a market order: minute 13 opens at 103
    assert (await status_of(venue, placed)).status is OrderStatus.FILLED
    assert await fills(venue, placed) == [(100, 103), (50, 103)]


async def test_a_gap_through_a_stop_fills_at_the_open(venue: Venue) -> None:
    await holding(venue, "10")
    placed = await venue.broker.submit(request("10", OrderType.STOP, side=Side.SELL, stop="97"))
    await venue.advance(29)  # never below 99.80
    assert (await status_of(venue, placed)).filled_qty == 0
    await venue.advance(1)  # minute 30 opens at 95
    assert await fills(venue, placed) == [(10, 95)]


async def test_a_stop_limit_triggered_past_its_limit_rests_and_cancels_clean(
    venue: Venue,
) -> None:
    await holding(venue, "10")
    placed = await venue.broker.submit(
        request("10", OrderType.STOP_LIMIT, side=Side.SELL, stop="97", limit="96.5")
    )
    await venue.advance(31)  # the gap to 95 triggers it; the limit 96.50 is never reached
    resting = await status_of(venue, placed)
    assert resting.status.is_open and resting.filled_qty == 0
    await venue.broker.cancel(placed.broker_order_id)
    assert (await status_of(venue, placed)).status is OrderStatus.CANCELED
    assert await fills(venue, placed) == []


async def test_a_trailing_stop_mark_follows_the_high_and_fills_at_its_stop(
    venue: Venue,
) -> None:
    await holding(venue, "10")
    placed = await venue.broker.submit(
        request("10", OrderType.TRAILING_STOP, side=Side.SELL, trail_price=Decimal("2.5"))
    )
    await venue.advance(19)  # the high so far: 110.20 in minute 19
    marked = await status_of(venue, placed)
    assert (marked.hwm, marked.stop_price, marked.filled_qty) == (
        Decimal("110.2"),
        Decimal("107.7"),
        0,
    )
    await venue.advance(2)  # minute 21's low 107.80 stays above 107.70
    assert (await status_of(venue, placed)).filled_qty == 0
    await venue.advance(1)  # minute 22 falls from 108 to 106.80 through 107.70
    assert await fills(venue, placed) == [(10, Decimal("107.7"))]


async def test_an_oco_with_both_exits_marketable_in_one_bar_fills_exactly_one(
    venue: Venue,
) -> None:
    await holding(venue, "10")
    placed = await venue.broker.submit(
        request(
            "10",
            OrderType.LIMIT,
            side=Side.SELL,
            limit="100.5",
            order_class=OrderClass.OCO,
            take_profit_limit_price=Decimal("100.5"),
            stop_loss_stop_price=Decimal("99.5"),
        )
    )
    (stop_leg,) = placed.legs
    assert stop_leg.order_type is OrderType.STOP and stop_leg.stop_price == Decimal("99.5")
    await venue.advance(1)  # 99..101 reaches both the take-profit and the stop
    group = [await status_of(venue, placed), await status_of(venue, stop_leg)]
    assert sorted(o.status.value for o in group) == ["canceled", "filled"]
    executed = await fills(venue, placed) + await fills(venue, stop_leg)
    assert sum(q for q, _ in executed) == 10


async def test_a_bracket_holds_its_exits_until_the_entry_fills_then_one_exit_fills(
    venue: Venue,
) -> None:
    placed = await venue.broker.submit(
        request(
            "10",
            OrderType.LIMIT,
            limit="100",
            order_class=OrderClass.BRACKET,
            take_profit_limit_price=Decimal("109"),
            stop_loss_stop_price=Decimal("95"),
        )
    )
    assert placed.order_class is OrderClass.BRACKET and len(placed.legs) == 2
    entry = await status_of(venue, placed)
    assert entry.status is OrderStatus.FILLED  # marketable at 100 from minute 0's volume
    legs = [await venue.broker.get_order(leg.broker_order_id) for leg in placed.legs]
    assert {leg.side for leg in legs} == {Side.SELL} and {leg.qty for leg in legs} == {10}
    assert all(leg.status is OrderStatus.NEW for leg in legs)
    await venue.advance(18)  # minute 18 rises from 108 to 109.20 through the take-profit
    after = {leg.order_type: await venue.broker.get_order(leg.broker_order_id) for leg in legs}
    assert after[OrderType.LIMIT].status is OrderStatus.FILLED
    assert after[OrderType.STOP].status is OrderStatus.CANCELED
    assert await fills(venue, after[OrderType.LIMIT]) == [(10, 109)]
    assert await fills(venue, after[OrderType.STOP]) == []


async def test_replacing_a_partly_filled_order_keeps_its_fills_on_the_old_order(
    venue: Venue,
) -> None:
    placed = await venue.broker.submit(request("150", OrderType.LIMIT, limit="99.5"))
    await venue.advance(1)  # 100 shares at 99.50 (the bar reaches 99)
    assert (await status_of(venue, placed)).filled_qty == 100
    new_id = new_order_id("team1")
    new = await venue.broker.replace(
        placed.broker_order_id,
        ReplaceRequest(qty=Decimal(30), limit_price=Decimal("99.6"), client_order_id=new_id),
    )
    assert (new.client_order_id, new.qty, new.filled_qty, new.limit_price) == (
        new_id,
        30,
        0,
        Decimal("99.6"),
    )
    assert new.replaces == placed.broker_order_id
    old = await status_of(venue, placed)
    assert (old.status, old.filled_qty, old.replaced_by) == (
        OrderStatus.REPLACED,
        100,
        new.broker_order_id,
    )
    await venue.advance(1)
    assert await fills(venue, placed) == [(100, Decimal("99.5"))]
    assert await fills(venue, new) == [(30, Decimal("99.6"))]


async def test_a_bracket_entry_canceled_after_a_partial_fill_protects_what_filled(
    venue: Venue,
) -> None:
    placed = await venue.broker.submit(
        request(
            "150",
            OrderType.LIMIT,
            limit="100",
            order_class=OrderClass.BRACKET,
            take_profit_limit_price=Decimal("109"),
            stop_loss_stop_price=Decimal("95"),
        )
    )
    entry = await status_of(venue, placed)  # minute 0 leaves 100 shares for us
    assert (entry.status, entry.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 100)
    held = [await venue.broker.get_order(leg.broker_order_id) for leg in placed.legs]
    assert {leg.status for leg in held} == {OrderStatus.HELD}
    await venue.broker.cancel(placed.broker_order_id)
    assert (await status_of(venue, placed)).status is OrderStatus.CANCELED
    legs = [await venue.broker.get_order(leg.broker_order_id) for leg in placed.legs]
    assert {(leg.status, leg.qty) for leg in legs} == {(OrderStatus.NEW, Decimal(100))}
    await venue.advance(18)  # the take-profit sells what the entry bought, no more
    take_profit = next(leg for leg in legs if leg.order_type is OrderType.LIMIT)
    assert await fills(venue, take_profit) == [(100, 109)]


async def test_an_order_sent_while_its_market_is_closed_waits_and_fills_at_the_open(
    venue: Venue,
) -> None:
    queued = await venue.broker.submit(
        OrderRequest(
            client_order_id=new_order_id("team1"),
            symbol=LATE,
            side=Side.BUY,
            qty=Decimal(10),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
        )
    )
    assert (queued.status, queued.filled_qty) == (OrderStatus.ACCEPTED, 0)
    await venue.advance(LATE_OPEN - 1)  # minutes 1..39: the market is still closed
    assert (await status_of(venue, queued)).status is OrderStatus.ACCEPTED
    assert await fills(venue, queued) == []
    await venue.advance(1)  # minute 40: the open's first bar
    assert (await status_of(venue, queued)).status is OrderStatus.FILLED
    assert await fills(venue, queued) == [(10, 52)]
