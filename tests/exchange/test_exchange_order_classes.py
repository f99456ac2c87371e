"""Bracket, oco and oto orders: legs held until the entry fills, released for a partial entry,
canceled with an empty one, and one-cancels-other between a group's exits."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side


@pytest.fixture
def long_kit(make_kit):
    """AAPL last at 100, 500 shares held, 100 shares of budget left this minute."""
    k = make_kit()
    k.feed(0, k.bar(0, "100", volume="1000"))
    k.engine.set_price("AAPL", D("100"), D("500"))
    k.order(qty="500", at=k.at(0, 30))
    k.engine.set_price("AAPL", D("100"), D("100"))
    return k


def bracket(kit, **kwargs):
    fields = {"take_profit": "105", "stop_loss": "95", "order_class": "bracket", "tif": "gtc"}
    return kit.order(**{**fields, **kwargs})


def test_bracket_legs_are_held_with_their_own_ids_until_the_entry_fills(kit):
    entry = bracket(kit, order_type="limit", limit="99", qty="10")
    take_profit, stop_loss = entry.legs
    assert entry.order_class is OrderClass.BRACKET
    assert [(leg.status, leg.side, leg.qty, leg.order_type) for leg in entry.legs] == [
        (OrderStatus.HELD, Side.SELL, D("10"), OrderType.LIMIT),
        (OrderStatus.HELD, Side.SELL, D("10"), OrderType.STOP),
    ]
    assert (take_profit.limit_price, stop_loss.stop_price) == (D("105"), D("95"))
    ids = {entry.broker_order_id, take_profit.broker_order_id, stop_loss.broker_order_id}
    cids = {entry.client_order_id, take_profit.client_order_id, stop_loss.client_order_id}
    assert len(ids) == len(cids) == 3
    assert take_profit.submitted_at == entry.submitted_at

    kit.feed(1, kit.bar(1, "99", high="99.50", low="98.50", close="99.20"))
    assert kit.now(entry.broker_order_id).status is OrderStatus.FILLED
    assert [kit.now(leg.broker_order_id).status for leg in entry.legs] == [OrderStatus.NEW] * 2
    assert kit.events_of(take_profit.broker_order_id) == ["new"]


def test_bracket_take_profit_fill_cancels_the_stop_loss(kit):
    entry = bracket(kit, qty="10")  # a market entry: fills at once, the legs work at once
    take_profit, stop_loss = entry.legs
    assert entry.status is OrderStatus.FILLED
    assert [leg.status for leg in kit.now(entry.broker_order_id).legs] == [OrderStatus.NEW] * 2

    kit.feed(1, kit.bar(1, "100", high="105.50", low="99.50", close="105"))
    assert kit.now(take_profit.broker_order_id).filled_avg_price == D("105")
    assert kit.now(stop_loss.broker_order_id).status is OrderStatus.CANCELED
    assert kit.engine.position("AAPL") is None


def test_bracket_with_a_partial_entry_then_cancel_releases_legs_for_the_filled_qty(kit):
    entry = bracket(kit, order_type="limit", limit="99", qty="150")
    kit.feed(1, kit.bar(1, "99", high="99.50", low="98.50", close="99.20", volume="1000"))
    assert kit.now(entry.broker_order_id).filled_qty == D("100")
    assert [kit.now(leg.broker_order_id).status for leg in entry.legs] == [OrderStatus.HELD] * 2

    kit.engine.cancel(entry.broker_order_id, kit.at(2, 5))
    parent = kit.now(entry.broker_order_id)
    assert (parent.status, parent.filled_qty) == (OrderStatus.CANCELED, D("100"))
    assert [(leg.status, leg.qty) for leg in parent.legs] == [(OrderStatus.NEW, D("100"))] * 2

    kit.feed(2, kit.bar(2, "99", high="99.20", low="94", close="94.50", volume="1000"))
    take_profit, stop_loss = (kit.now(leg.broker_order_id) for leg in entry.legs)
    assert (stop_loss.status, stop_loss.filled_qty) == (OrderStatus.FILLED, D("100"))
    assert take_profit.status is OrderStatus.CANCELED
    assert kit.engine.position("AAPL") is None


def test_bracket_entry_canceled_with_nothing_filled_cancels_its_legs(kit):
    entry = bracket(kit, order_type="limit", limit="96", qty="10")
    kit.engine.cancel(entry.broker_order_id, kit.at(1, 20))
    assert [kit.now(leg.broker_order_id).status for leg in entry.legs] == [OrderStatus.CANCELED] * 2


def test_bracket_entry_expiring_after_a_partial_fill_releases_its_legs(kit):
    entry = bracket(kit, order_type="limit", limit="99", qty="150", tif="day")
    kit.feed(1, kit.bar(1, "99", volume="1000"))
    kit.engine.end_session(kit.at(2))
    parent = kit.now(entry.broker_order_id)
    assert parent.status is OrderStatus.EXPIRED
    # day legs released at the close expire with the session too, for the filled 100
    assert [(leg.status, leg.qty) for leg in parent.legs] == [(OrderStatus.EXPIRED, D("100"))] * 2
    assert kit.events_of(entry.legs[0].broker_order_id) == ["new", "expired"]


def test_oco_race_both_legs_marketable_in_one_bar_exactly_one_fills(long_kit):
    kit = long_kit
    oco = kit.order(
        side="sell",
        order_type="limit",
        limit="101",
        stop_loss="99",
        order_class="oco",
        tif="gtc",
    )
    (stop_loss,) = oco.legs
    assert (oco.status, stop_loss.status, stop_loss.side) == (
        OrderStatus.NEW,
        OrderStatus.NEW,
        Side.SELL,
    )
    # down first (close >= open: open, low, high, close): the stop at 99 is reached first
    kit.feed(1, kit.bar(1, "100", high="101.50", low="98.50", close="100.50", volume="1000"))
    take_profit, stop = kit.now(oco.broker_order_id), kit.now(stop_loss.broker_order_id)
    assert (stop.status, stop.filled_qty, stop.filled_avg_price) == (
        OrderStatus.FILLED,
        D("10"),
        D("98.98"),
    )
    assert (take_profit.status, take_profit.filled_qty) == (OrderStatus.CANCELED, D("0"))
    sold = [e for e in kit.engine.executions if e.side is Side.SELL]
    assert [e.broker_order_id for e in sold] == [stop_loss.broker_order_id]


def test_oco_first_execution_of_a_partial_fill_cancels_the_other(long_kit):
    kit = long_kit
    oco = kit.order(
        side="sell", order_type="limit", limit="101", stop_loss="99", order_class="oco", qty="300"
    )
    kit.feed(1, kit.bar(1, "100", high="101.50", low="99.50", close="101.20", volume="1000"))
    assert kit.now(oco.broker_order_id).filled_qty == D("100")
    assert kit.now(oco.legs[0].broker_order_id).status is OrderStatus.CANCELED


def test_canceling_one_leg_of_an_oco_cancels_the_other(long_kit):
    kit = long_kit
    oco = kit.order(side="sell", order_type="limit", limit="101", stop_loss="99", order_class="oco")
    kit.engine.cancel(oco.legs[0].broker_order_id, kit.at(1, 30))
    assert kit.now(oco.broker_order_id).status is OrderStatus.CANCELED
    assert kit.events_of(oco.broker_order_id) == ["new", "canceled"]


def test_canceling_an_active_bracket_exit_cancels_the_other_exit(kit):
    entry = bracket(kit, qty="10")
    take_profit, stop_loss = entry.legs
    kit.engine.cancel(stop_loss.broker_order_id, kit.at(1, 30))
    assert kit.now(take_profit.broker_order_id).status is OrderStatus.CANCELED


def test_oto_has_one_leg_released_by_the_entry(kit):
    entry = kit.order(
        order_type="limit", limit="99", stop_loss="95", order_class="oto", tif="gtc", qty="10"
    )
    (leg,) = entry.legs
    assert (leg.order_type, leg.status) == (OrderType.STOP, OrderStatus.HELD)
    kit.feed(1, kit.bar(1, "99", volume="1000"))
    kit.feed(2, kit.bar(2, "96", low="94.50", close="95", volume="1000"))
    final = kit.now(leg.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("94.98"))


def test_bracket_stop_loss_with_a_limit_is_a_stop_limit_leg(kit):
    entry = bracket(kit, qty="10", stop_loss_limit="94.50")
    stop_loss = entry.legs[1]
    assert (stop_loss.order_type, stop_loss.stop_price, stop_loss.limit_price) == (
        OrderType.STOP_LIMIT,
        D("95"),
        D("94.5"),
    )


def test_a_bracket_reserves_for_its_entry_only(kit):
    before = kit.engine.account().buying_power
    bracket(kit, order_type="limit", limit="96", qty="10")
    assert before - kit.engine.account().buying_power == D("960")
