"""opg orders trade at the session's first bar's open, cls orders at the session's last price;
what they do not fill expires."""

from datetime import timedelta
from decimal import Decimal as D

from qtc.domain.enums import OrderStatus

NEXT_DAY = 24 * 60  # minutes from T0 to the same minute of the next session


def test_opg_submitted_after_the_close_fills_at_the_next_open(kit):
    kit.engine.end_session(kit.at(2))
    order = kit.order(tif="opg", at=kit.at(3))
    assert order.status is OrderStatus.NEW

    kit.feed(NEXT_DAY, kit.bar(NEXT_DAY, "101", high="101.50", low="100.50", close="101.20"))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("101.03"))


def test_opg_submitted_during_the_session_waits_for_the_next_one(kit):
    order = kit.order(tif="opg")
    kit.feed(1, kit.bar(1, "100"))
    assert kit.now(order.broker_order_id).filled_qty == D("0")
    kit.engine.end_session(kit.at(2))
    assert kit.now(order.broker_order_id).status is OrderStatus.NEW  # not a day order

    kit.feed(NEXT_DAY, kit.bar(NEXT_DAY, "102"))
    assert kit.now(order.broker_order_id).status is OrderStatus.FILLED


def test_opg_limit_the_open_does_not_reach_expires_at_the_open(kit):
    kit.engine.end_session(kit.at(2))
    order = kit.order(tif="opg", order_type="limit", limit="99", at=kit.at(3))
    kit.feed(NEXT_DAY, kit.bar(NEXT_DAY, "100", low="98", close="98.50"))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_qty) == (OrderStatus.EXPIRED, D("0"))
    assert kit.events_of(order.broker_order_id) == ["new", "expired"]


def test_opg_beyond_the_open_budget_fills_part_and_expires_the_rest(kit):
    kit.engine.end_session(kit.at(2))
    order = kit.order(tif="opg", qty="150", at=kit.at(3))
    kit.feed(NEXT_DAY, kit.bar(NEXT_DAY, "100", volume="1000"))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_qty) == (OrderStatus.EXPIRED, D("100"))


def test_cls_fills_at_the_sessions_last_price_when_the_session_ends(kit):
    order = kit.order(tif="cls", qty="10")
    kit.feed(1, kit.bar(1, "100", high="101", low="99.50", close="100.70"))
    assert kit.now(order.broker_order_id).filled_qty == D("0")  # not during the session

    kit.engine.end_session(kit.at(2))
    final = kit.now(order.broker_order_id)
    assert (final.status, final.filled_avg_price, final.updated_at) == (
        OrderStatus.FILLED,
        D("100.7"),
        kit.at(2),
    )


def test_cls_limit_the_close_does_not_reach_expires(kit):
    order = kit.order(tif="cls", order_type="limit", limit="100.50", qty="10")
    kit.feed(1, kit.bar(1, "100", high="101", low="99.50", close="100.70"))
    expired = kit.engine.end_session(kit.at(1) + timedelta(minutes=1))
    assert [o.broker_order_id for o in expired] == [order.broker_order_id]
    assert kit.now(order.broker_order_id).status is OrderStatus.EXPIRED
