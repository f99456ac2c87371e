"""Limit orders: marketable only at the limit or better, resting, improving, every time in force."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderStatus
from qtc.domain.errors import OrderNotCancelable, OrderNotFound


def test_limit_buy_below_market_rests_then_fills_at_the_limit(kit):
    order = kit.order(order_type="limit", limit="99.50", qty="10")
    assert (order.status, order.filled_qty, order.limit_price) == (
        OrderStatus.NEW,
        D("0"),
        D("99.50"),
    )

    kit.feed(1, kit.bar(1, "100", high="100.10", low="99.60", close="99.70"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("0")  # never reached 99.50

    kit.feed(2, kit.bar(2, "99.80", high="99.90", low="99.40", close="99.45"))
    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_qty, final.filled_avg_price) == (
        OrderStatus.FILLED,
        D("10"),
        D("99.5"),
    )


def test_limit_buy_gets_the_open_when_the_bar_opens_through_the_limit(kit):
    order = kit.order(order_type="limit", limit="99.50")
    kit.feed(1, kit.bar(1, "98.75", high="99.00", low="98.50", close="98.90"))

    assert kit.engine.get(order.broker_order_id).filled_avg_price == D("98.75")


def test_limit_sell_above_market_fills_at_limit_or_better(kit):
    at_limit = kit.order(side="sell", order_type="limit", limit="101")
    improved = kit.order(side="sell", order_type="limit", limit="100.50")
    kit.feed(1, kit.bar(1, "100.75", high="101.20", low="100.60", close="101"))

    assert kit.engine.get(at_limit.broker_order_id).filled_avg_price == D("101")
    assert kit.engine.get(improved.broker_order_id).filled_avg_price == D("100.75")


def test_marketable_limit_buy_fills_at_once_at_the_quote_not_the_limit(kit):
    order = kit.order(order_type="limit", limit="101")
    assert (order.status, order.filled_avg_price) == (OrderStatus.FILLED, D("100.02"))


def test_limit_between_last_and_quote_is_not_marketable(kit):
    order = kit.order(order_type="limit", limit="100.01")
    assert order.status is OrderStatus.NEW


def test_limit_order_fills_partially_over_minutes_then_cancel_keeps_fills(kit):
    order = kit.order(order_type="limit", limit="99", qty="250", tif="gtc")
    kit.feed(1, kit.bar(1, "99.50", low="98.90", close="99", volume="800"))
    kit.feed(2, kit.bar(2, "98.80", low="98.70", close="98.90", volume="1200"))
    partial = kit.engine.get(order.broker_order_id)
    assert (partial.status, partial.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("200"))
    # 80 at the limit (99) and 120 at the open (98.80)
    assert partial.filled_avg_price == D("98.88")

    canceled = kit.engine.cancel(order.broker_order_id, kit.at(3, 30))

    assert (canceled.status, canceled.filled_qty, canceled.filled_avg_price) == (
        OrderStatus.CANCELED,
        D("200"),
        D("98.88"),
    )
    assert canceled.updated_at == kit.at(3, 30)
    assert kit.trail(order.broker_order_id) == [
        ("new", "0", None, None),
        ("partial_fill", "80", "80", "99"),
        ("partial_fill", "200", "120", "98.8"),
        ("canceled", "200", None, None),
    ]
    kit.feed(3, kit.bar(3, "90"))
    assert kit.engine.get(order.broker_order_id).filled_qty == D("200")
    assert sum(e.qty for e in kit.engine.executions) == D("200")


def test_cancel_of_a_closed_order_says_how_it_ended(kit):
    filled = kit.order(qty="1")
    with pytest.raises(OrderNotCancelable) as err:
        kit.engine.cancel(filled.broker_order_id, kit.at(2))
    assert err.value.status is OrderStatus.FILLED

    resting = kit.order(order_type="limit", limit="90")
    kit.engine.cancel(resting.broker_order_id, kit.at(2))
    with pytest.raises(OrderNotCancelable) as err:
        kit.engine.cancel(resting.broker_order_id, kit.at(3))
    assert err.value.status is OrderStatus.CANCELED
    assert [e.event.value for e in kit.events].count("canceled") == 1


def test_cancel_or_get_of_an_unknown_order_is_not_found(kit):
    with pytest.raises(OrderNotFound):
        kit.engine.cancel("no-such-order", kit.at(2))
    with pytest.raises(OrderNotFound):
        kit.engine.get("no-such-order")
    with pytest.raises(OrderNotFound):
        kit.engine.get_by_client_id("team1-nothing")


def test_day_limit_order_expires_after_a_partial_fill(kit):
    order = kit.order(order_type="limit", limit="99", qty="150")
    kit.feed(1, kit.bar(1, "98.50", volume="600"))

    kit.engine.end_session(kit.at(390))

    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_qty, final.filled_avg_price) == (
        OrderStatus.EXPIRED,
        D("60"),
        D("98.5"),
    )
    assert kit.trail(order.broker_order_id)[-1] == ("expired", "60", None, None)


def test_gtc_limit_order_rests_across_sessions(kit):
    order = kit.order(order_type="limit", limit="95", tif="gtc")
    kit.engine.end_session(kit.at(390))
    kit.feed(1440, kit.bar(1440, "96", low="94", close="95"))

    final = kit.engine.get(order.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("95"))


def test_limit_ioc_not_marketable_is_canceled_without_fills(kit):
    order = kit.order(order_type="limit", limit="99", tif="ioc")

    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.CANCELED,
        D("0"),
        None,
    )
    kit.feed(1, kit.bar(1, "90"))
    assert kit.engine.executions == []


def test_limit_ioc_partial_then_cancel(kit):
    order = kit.order(side="sell", order_type="limit", limit="99.98", qty="130", tif="ioc")
    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.CANCELED,
        D("100"),
        D("99.98"),
    )


def test_limit_fok_fills_completely_or_not_at_all(kit):
    short = kit.order(order_type="limit", limit="101", qty="120", tif="fok")
    assert (short.status, short.filled_qty) == (OrderStatus.CANCELED, D("0"))

    not_marketable = kit.order(order_type="limit", limit="100", qty="10", tif="fok")
    assert (not_marketable.status, not_marketable.filled_qty) == (OrderStatus.CANCELED, D("0"))

    whole = kit.order(order_type="limit", limit="101", qty="100", tif="fok")
    assert (whole.status, whole.filled_qty, whole.filled_avg_price) == (
        OrderStatus.FILLED,
        D("100"),
        D("100.02"),
    )


def test_equity_orders_fill_in_whole_shares_fractional_ones_in_fractions(make_kit):
    k = make_kit()
    k.feed(0, k.bar(0, "100", volume="75"))  # budget 7.5 shares

    whole = k.order(qty="10")
    fractional = k.order(qty="0.75")

    assert k.engine.get(whole.broker_order_id).filled_qty == D("7")
    assert k.engine.get(fractional.broker_order_id).filled_qty == D("0.5")
