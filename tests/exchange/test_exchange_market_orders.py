"""Market orders: immediate fills at the quote, participation over minutes, every time in force."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderStatus


def test_market_buy_fills_inside_submit_at_last_price_plus_half_spread(kit):
    order = kit.order(side="buy", qty="10")

    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == D("10")
    assert order.filled_avg_price == D("100.02")
    assert kit.trail(order.broker_order_id) == [
        ("new", "0", None, None),
        ("fill", "10", "10", "100.02"),
    ]
    [execution] = kit.engine.executions
    assert (execution.broker_order_id, execution.client_order_id) == (
        order.broker_order_id,
        order.client_order_id,
    )
    assert (execution.qty, execution.price, execution.timestamp) == (
        D("10"),
        D("100.02"),
        kit.at(1, 10),
    )
    account = kit.engine.account()
    assert account.cash == D("10000000") - D("1000.20")
    assert account.positions["AAPL"].qty == D("10")
    assert account.positions["AAPL"].avg_entry_price == D("100.02")


def test_market_sell_fills_at_last_price_minus_half_spread(kit):
    # a short sale is allowed for equities, as on Alpaca paper
    order = kit.order(side="sell", qty="5")

    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.FILLED,
        D("5"),
        D("99.98"),
    )
    assert kit.engine.account().cash == D("10000000") + D("499.90")
    assert kit.engine.position("AAPL").qty == D("-5")


def test_large_market_order_fills_partially_over_several_minutes(kit):
    order = kit.order(qty="250")
    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("100"))

    kit.feed(1, kit.bar(1, "150", volume="1000"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("200")
    kit.feed(2, kit.bar(2, "200", volume="1000"))

    final = kit.engine.get(order.broker_order_id)
    assert final.status is OrderStatus.FILLED
    assert final.filled_qty == D("250")
    # (100 x 100.02 + 100 x 150.03 + 50 x 200.04) / 250
    assert final.filled_avg_price == D("140.028")
    assert kit.trail(order.broker_order_id) == [
        ("new", "0", None, None),
        ("partial_fill", "100", "100", "100.02"),
        ("partial_fill", "200", "100", "150.03"),
        ("fill", "250", "50", "200.04"),
    ]
    stamps = [e.timestamp for e in kit.engine.executions]
    assert stamps == [kit.at(1, 10), kit.at(2), kit.at(3)]


def test_market_order_without_liquidity_waits_for_the_next_bar(kit):
    kit.feed(1)  # a minute without a bar for AAPL: no volume to take
    order = kit.order(at=kit.at(2, 5))
    assert (order.status, order.filled_qty) == (OrderStatus.NEW, D("0"))

    kit.feed(2, kit.bar(2, "101", high="103", low="100", close="102"))

    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("101.03"))


def test_orders_share_a_minute_budget_first_come_first_served(kit):
    first = kit.order(qty="70")
    second = kit.order(qty="70")

    assert kit.engine.get(first.broker_order_id).filled_qty == D("70")
    assert kit.engine.get(second.broker_order_id).filled_qty == D("30")

    kit.feed(1, kit.bar(1, "100", volume="300"))  # budget 30 this minute
    assert kit.engine.get(second.broker_order_id).filled_qty == D("60")
    third = kit.order(qty="5", at=kit.at(2, 1))
    assert third.filled_qty == D("0")  # the minute's budget is spent


def test_participation_caps_each_minute(make_kit):
    k = make_kit(participation=D("0.25"))
    k.feed(0, k.bar(0, "100", volume="80"))
    order = k.order(qty="50")
    assert order.filled_qty == D("20")


def test_market_ioc_fills_what_it_can_and_cancels_the_rest(kit):
    order = kit.order(qty="250", tif="ioc")

    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.CANCELED,
        D("100"),
        D("100.02"),
    )
    assert kit.trail(order.broker_order_id) == [
        ("new", "0", None, None),
        ("partial_fill", "100", "100", "100.02"),
        ("canceled", "100", None, None),
    ]
    kit.feed(1, kit.bar(1, "100"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("100")


def test_market_fok_is_all_or_nothing(kit):
    too_big = kit.order(qty="101", tif="fok")
    assert (too_big.status, too_big.filled_qty) == (OrderStatus.CANCELED, D("0"))
    assert kit.trail(too_big.broker_order_id) == [
        ("new", "0", None, None),
        ("canceled", "0", None, None),
    ]

    fits = kit.order(qty="100", tif="fok")
    assert (fits.status, fits.filled_qty, fits.filled_avg_price) == (
        OrderStatus.FILLED,
        D("100"),
        D("100.02"),
    )
    assert len(kit.engine.executions) == 1


def test_day_market_order_expires_at_session_close_keeping_fills(kit):
    order = kit.order(qty="150")
    assert order.filled_qty == D("100")

    expired = kit.engine.end_session(kit.at(390))

    assert [o.broker_order_id for o in expired] == [order.broker_order_id]
    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_qty, final.filled_avg_price) == (
        OrderStatus.EXPIRED,
        D("100"),
        D("100.02"),
    )
    assert final.updated_at == kit.at(390)
    assert kit.trail(order.broker_order_id)[-1] == ("expired", "100", None, None)
    kit.feed(391, kit.bar(391, "100"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("100")


def test_gtc_market_order_survives_the_close_and_fills_next_session(kit):
    order = kit.order(qty="150", tif="gtc")
    assert kit.engine.end_session(kit.at(390)) == []

    late = kit.order(qty="1", tif="gtc", at=kit.at(391))
    assert late.filled_qty == D("0")  # after the close there is no equity liquidity

    kit.feed(1440, kit.bar(1440, "110"))
    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_qty) == (OrderStatus.FILLED, D("150"))
    assert kit.trail(order.broker_order_id)[-1] == ("fill", "150", "50", "110.03")
    assert kit.engine.get(late.broker_order_id).filled_avg_price == D("110.03")


@pytest.mark.parametrize("tif", ["gtc", "ioc"])
def test_crypto_trades_fractional_quantities_around_the_clock(make_kit, tif):
    k = make_kit()
    k.feed(0, k.bar(0, "50000", volume="2.5", symbol="BTC/USD"))
    k.engine.end_session(k.at(390))  # an equity close leaves crypto liquidity alone

    order = k.order(symbol="BTC/USD", qty="0.3", tif=tif, at=k.at(400))

    # budget 0.25 BTC; half-spread 2 bps of 50000 = 10
    assert order.filled_qty == D("0.25")
    assert order.filled_avg_price == D("50010")
    expected = OrderStatus.CANCELED if tif == "ioc" else OrderStatus.PARTIALLY_FILLED
    assert order.status is expected


def test_a_late_bar_never_fills_an_order_placed_after_it_ended(kit):
    # the driver may feed minute 1 a moment after 14:32: an order of 14:32:00.5 waits for minute 2
    order = kit.order(qty="150", at=kit.at(2).replace(microsecond=500_000))
    assert order.filled_qty == D("100")

    kit.feed(1, kit.bar(1, "90"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("100")
    kit.feed(2, kit.bar(2, "110"))

    assert kit.trail(order.broker_order_id)[-1] == ("fill", "150", "50", "110.03")
