"""Stop, stop_limit and trailing_stop orders on the bar path: triggers, gaps, limits after the
trigger, volume-starved triggers, cancels, and the trailing mark."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderStatus


@pytest.fixture
def long_kit(make_kit):
    """AAPL last at 100, 500 shares held, 100 shares of budget left this minute."""
    k = make_kit()
    k.feed(0, k.bar(0, "100", volume="1000"))
    k.engine.set_price("AAPL", D("100"), D("500"))
    k.order(qty="500", at=k.at(0, 30))
    k.engine.set_price("AAPL", D("100"), D("100"))
    return k


def test_sell_stop_triggers_where_the_path_falls_through_it_and_fills_at_the_stop(long_kit):
    kit = long_kit
    order = kit.order(side="sell", order_type="stop", stop="99", tif="gtc")
    assert (order.status, order.stop_price) == (OrderStatus.NEW, D("99"))

    kit.feed(1, kit.bar(1, "100", high="100.50", low="99.20", close="99.30"))
    assert kit.now(order.broker_order_id).filled_qty == D("0")  # never reached 99

    kit.feed(2, kit.bar(2, "99.30", high="99.40", low="98.50", close="98.80"))
    final = kit.now(order.broker_order_id)
    # a market order at the stop: 99 less the 2 bps half-spread, on the cent
    assert (final.status, final.filled_qty, final.filled_avg_price) == (
        OrderStatus.FILLED,
        D("10"),
        D("98.98"),
    )


def test_a_gap_through_the_stop_fills_at_the_open(long_kit):
    kit = long_kit
    sell = kit.order(side="sell", order_type="stop", stop="99")
    buy = kit.order(order_type="stop", stop="101")
    kit.feed(1, kit.bar(1, "97", high="97.50", low="96.50", close="97.20"))
    assert kit.now(sell.broker_order_id).filled_avg_price == D("96.98")
    assert kit.now(buy.broker_order_id).filled_qty == D("0")

    kit.feed(2, kit.bar(2, "103", high="103.50", low="102.50", close="103.20"))
    assert kit.now(buy.broker_order_id).filled_avg_price == D("103.03")


def test_buy_stop_triggers_on_the_way_up(kit):
    order = kit.order(order_type="stop", stop="101")
    kit.feed(1, kit.bar(1, "100", high="101.50", low="99.90", close="101.20"))
    assert kit.now(order.broker_order_id).filled_avg_price == D("101.03")


def test_stop_limit_becomes_a_limit_at_the_trigger_and_waits_when_the_limit_is_not_reached(kit):
    order = kit.order(order_type="stop_limit", stop="101", limit="100.50", tif="gtc")
    # the path (open, low, high, close) triggers at 101 on the way up, never back to 100.50
    kit.feed(1, kit.bar(1, "100", high="102", low="100.60", close="100.80"))
    triggered = kit.now(order.broker_order_id)
    assert (triggered.status, triggered.filled_qty) == (OrderStatus.NEW, D("0"))

    kit.feed(2, kit.bar(2, "100.80", high="100.90", low="99.50", close="99.80"))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("100.5"))


def test_stop_limit_fills_at_the_trigger_when_the_limit_allows(kit):
    order = kit.order(order_type="stop_limit", stop="101", limit="101.50")
    kit.feed(1, kit.bar(1, "100", high="101.80", low="99.90", close="101.60"))
    assert kit.now(order.broker_order_id).filled_avg_price == D("101")  # no spread: a limit


def test_stop_limit_that_gaps_past_its_limit_fills_only_if_the_path_comes_back(kit):
    order = kit.order(order_type="stop_limit", stop="101", limit="101.50")
    kit.feed(1, kit.bar(1, "102", high="102.50", low="101.40", close="102.20"))
    assert kit.now(order.broker_order_id).filled_avg_price == D("101.5")

    unreached = kit.order(order_type="stop_limit", stop="101", limit="101.50", at=kit.at(2, 5))
    kit.feed(2, kit.bar(2, "103", high="103.50", low="102", close="103.20"))
    assert kit.now(unreached.broker_order_id).filled_qty == D("0")


def test_a_triggered_stop_without_volume_stays_triggered_and_fills_next_bar(kit):
    order = kit.order(order_type="stop", stop="101", qty="150", tif="gtc")
    kit.feed(1, kit.bar(1, "100", high="101.50", low="99.90", close="101.20", volume="1000"))
    partial = kit.now(order.broker_order_id)
    assert (partial.status, partial.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("100"))

    # the price is back under the stop: a triggered stop is a market order now
    kit.feed(2, kit.bar(2, "100", high="100.20", low="99.80", close="100", volume="1000"))
    assert kit.trail(order.broker_order_id) == [
        ("new", "0", None, None),
        ("partial_fill", "100", "100", "101.03"),
        ("fill", "150", "50", "100.02"),
    ]


def test_cancel_of_a_triggered_stop_keeps_its_fills_and_ends_it(kit):
    order = kit.order(order_type="stop", stop="101", qty="150", tif="gtc")
    kit.feed(1, kit.bar(1, "100", high="101.50", low="99.90", close="101.20", volume="1000"))
    canceled = kit.engine.cancel(order.broker_order_id, kit.at(2, 5))
    kit.feed(2, kit.bar(2, "101", volume="1000"))

    assert (canceled.status, canceled.filled_qty) == (OrderStatus.CANCELED, D("100"))
    assert kit.events_of(order.broker_order_id) == ["new", "partial_fill", "canceled"]
    assert kit.engine.position("AAPL").qty == D("100")


def test_a_stop_the_last_price_already_crossed_triggers_at_submission(kit):
    order = kit.order(order_type="stop", stop="99.50")
    assert (order.status, order.filled_avg_price) == (OrderStatus.FILLED, D("100.02"))


def test_an_uncrossed_stop_rests_without_reserving_less_than_its_stop(kit):
    before = kit.engine.account().buying_power
    kit.order(order_type="stop", stop="110", qty="10")
    # reserved at the stop plus the half-spread, where it would become a market order
    assert before - kit.engine.account().buying_power == D("1100.30")


def test_trailing_sell_stop_mark_follows_the_highs_and_triggers_on_the_fall(long_kit):
    kit = long_kit
    order = kit.order(side="sell", order_type="trailing_stop", trail_price="1", tif="gtc")
    assert (order.hwm, order.stop_price, order.trail_price) == (D("100"), D("99"), D("1"))

    kit.feed(1, kit.bar(1, "100", high="101.50", low="99.10", close="101.20"))
    first = kit.now(order.broker_order_id)
    assert (first.hwm, first.stop_price, first.filled_qty) == (D("101.5"), D("100.5"), D(0))

    kit.feed(2, kit.bar(2, "101.40", high="102", low="101.20", close="101.80"))
    second = kit.now(order.broker_order_id)
    assert (second.hwm, second.stop_price) == (D("102"), D("101"))

    kit.feed(3, kit.bar(3, "101.50", high="101.60", low="100.90", close="101"))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_avg_price, final.hwm) == (
        OrderStatus.FILLED,
        D("100.97"),
        D("102"),
    )


def test_trailing_buy_stop_by_percent_follows_the_lows(kit):
    order = kit.order(order_type="trailing_stop", trail_percent="1", tif="gtc")
    assert (order.hwm, order.stop_price) == (D("100"), D("101"))

    # down first (close >= open: open, low, high, close): the mark moves to 98, then the
    # rebound to 99.50 crosses the new stop 98.98
    kit.feed(1, kit.bar(1, "100", high="99.50", low="98", close="99.40"))
    final = kit.now(order.broker_order_id)
    assert (final.hwm, final.stop_price, final.status, final.filled_avg_price) == (
        D("98"),
        D("98.98"),
        OrderStatus.FILLED,
        D("99"),
    )


def test_trailing_stop_that_the_bar_never_reaches_only_moves_its_mark(kit):
    order = kit.order(order_type="trailing_stop", trail_price="2", tif="gtc")
    kit.feed(1, kit.bar(1, "99.50", high="100.50", low="99", close="99.20"))
    kit.feed(2, kit.bar(2, "99.20", high="99.60", low="98.40", close="98.50"))
    now = kit.now(order.broker_order_id)
    assert (now.hwm, now.stop_price, now.status) == (D("98.4"), D("100.4"), OrderStatus.NEW)


def test_a_trailing_buy_reserves_at_its_first_stop(kit):
    before = kit.engine.account().buying_power
    kit.order(order_type="trailing_stop", trail_percent="5", qty="10", tif="gtc")
    # 105 plus the 2 bps half-spread, on the cent
    assert before - kit.engine.account().buying_power == D("1050.30")
