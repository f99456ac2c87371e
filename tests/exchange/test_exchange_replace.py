"""Replacing an open order: the old one ends `replaced` keeping its fills, a new one takes its
place; closed, held and parent orders cannot be replaced."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderStatus, TimeInForce
from qtc.domain.errors import OrderNotCancelable, OrderRejected
from qtc.domain.orders import ReplaceRequest


def test_replace_while_partially_filled_keeps_the_fills_then_the_new_order_works(kit):
    old = kit.order(order_type="limit", limit="99", qty="150", tif="gtc")
    kit.feed(1, kit.bar(1, "99", high="99.50", low="98.80", close="99.20", volume="1000"))

    new = kit.engine.replace(
        old.broker_order_id, ReplaceRequest(limit_price=D("98.50")), kit.at(2, 5)
    )
    replaced = kit.now(old.broker_order_id)
    assert (replaced.status, replaced.filled_qty, replaced.replaced_by) == (
        OrderStatus.REPLACED,
        D("100"),
        new.broker_order_id,
    )
    assert (new.status, new.qty, new.filled_qty, new.limit_price, new.replaces) == (
        OrderStatus.NEW,
        D("50"),
        D("0"),
        D("98.5"),
        old.broker_order_id,
    )
    assert new.client_order_id != old.client_order_id
    assert [(u.event.value, u.order.broker_order_id) for u in kit.events[-2:]] == [
        ("replaced", old.broker_order_id),
        ("new", new.broker_order_id),
    ]

    kit.feed(2, kit.bar(2, "98.60", low="98.40", close="98.50", volume="1000"))
    assert kit.now(new.broker_order_id).status is OrderStatus.FILLED
    assert [(e.broker_order_id, e.qty) for e in kit.engine.executions[-2:]] == [
        (old.broker_order_id, D("100")),
        (new.broker_order_id, D("50")),
    ]
    assert kit.engine.position("AAPL").qty == D("150")


def test_replace_takes_the_given_qty_tif_and_client_order_id(kit):
    old = kit.order(order_type="limit", limit="95", qty="10")
    change = ReplaceRequest(qty=D("25"), time_in_force=TimeInForce.GTC, client_order_id="mine-2")
    new = kit.engine.replace(old.broker_order_id, change, kit.at(1, 20))
    assert (new.qty, new.time_in_force, new.client_order_id) == (D("25"), TimeInForce.GTC, "mine-2")


def test_replace_moves_the_reservation_to_the_new_price(kit):
    before = kit.engine.account().buying_power
    old = kit.order(order_type="limit", limit="90", qty="10")
    kit.engine.replace(old.broker_order_id, ReplaceRequest(limit_price=D("80")), kit.at(1, 20))
    assert before - kit.engine.account().buying_power == D("800")


def test_replace_that_fails_admission_leaves_the_order_as_it_was(kit):
    old = kit.order(order_type="limit", limit="90", qty="10")
    with pytest.raises(OrderRejected, match="sub-penny"):
        kit.engine.replace(
            old.broker_order_id, ReplaceRequest(limit_price=D("80.001")), kit.at(1, 20)
        )
    assert kit.now(old.broker_order_id).status is OrderStatus.NEW


def test_replacing_a_marketable_limit_fills_the_new_order_at_once(kit):
    old = kit.order(order_type="limit", limit="90", qty="10")
    new = kit.engine.replace(
        old.broker_order_id, ReplaceRequest(limit_price=D("101")), kit.at(1, 20)
    )
    assert (new.status, new.filled_avg_price) == (OrderStatus.FILLED, D("100.02"))


def test_replace_of_a_closed_order_is_refused_like_a_cancel(kit):
    filled = kit.order(qty="10")
    with pytest.raises(OrderNotCancelable) as raised:
        kit.engine.replace(filled.broker_order_id, ReplaceRequest(qty=D("5")), kit.at(1, 20))
    assert raised.value.status is OrderStatus.FILLED


def test_replace_of_a_held_leg_or_a_parent_is_refused(kit):
    entry = kit.order(
        order_type="limit", limit="96", order_class="bracket", take_profit="105", stop_loss="95"
    )
    with pytest.raises(OrderRejected, match="held"):
        kit.engine.replace(
            entry.legs[0].broker_order_id, ReplaceRequest(limit_price=D("106")), kit.at(1, 20)
        )
    with pytest.raises(OrderRejected, match="parent"):
        kit.engine.replace(
            entry.broker_order_id, ReplaceRequest(limit_price=D("91")), kit.at(1, 20)
        )


def test_replacing_a_bracket_leg_keeps_it_in_the_group(kit):
    entry = kit.order(qty="10", order_class="bracket", take_profit="105", stop_loss="95")
    take_profit, stop_loss = entry.legs
    moved = kit.engine.replace(
        stop_loss.broker_order_id, ReplaceRequest(stop_price=D("97")), kit.at(1, 20)
    )
    assert [leg.broker_order_id for leg in kit.now(entry.broker_order_id).legs] == [
        take_profit.broker_order_id,
        moved.broker_order_id,
    ]
    kit.feed(1, kit.bar(1, "100", high="100.50", low="96.50", close="96.80"))
    assert kit.now(moved.broker_order_id).status is OrderStatus.FILLED
    assert kit.now(take_profit.broker_order_id).status is OrderStatus.CANCELED


def test_replacing_a_trailing_stop_keeps_its_mark_and_trails_by_the_new_amount(kit):
    old = kit.order(order_type="trailing_stop", trail_price="2", tif="gtc")
    kit.feed(1, kit.bar(1, "99", low="97", close="98"))
    new = kit.engine.replace(old.broker_order_id, ReplaceRequest(trail=D("1.50")), kit.at(2, 5))
    assert (new.hwm, new.trail_price, new.stop_price) == (D("97"), D("1.5"), D("98.5"))


@pytest.mark.parametrize(
    ("fields", "change", "message"),
    [
        ({"order_type": "limit", "limit": "90"}, {"stop_price": D("91")}, "stop_price cannot"),
        ({"order_type": "stop", "stop": "110"}, {"limit_price": D("111")}, "limit_price cannot"),
        ({"order_type": "stop", "stop": "110"}, {"trail": D("1")}, "trail cannot"),
        (
            {"order_type": "trailing_stop", "trail_price": "1", "tif": "gtc"},
            {"stop_price": D("99")},
            "stop_price cannot be replaced on a trailing_stop order",
        ),
    ],
)
def test_replace_refuses_a_price_the_orders_type_does_not_have(kit, fields, change, message):
    old = kit.order(**fields)
    with pytest.raises(OrderRejected, match=message):
        kit.engine.replace(old.broker_order_id, ReplaceRequest(**change), kit.at(1, 20))
    assert kit.now(old.broker_order_id).status is OrderStatus.NEW
