"""Listing and looking up orders the way the tracker's reconciliation pages through them."""

from decimal import Decimal as D

import pytest

from qtc.domain.enums import OrderStatus


@pytest.fixture
def five(kit):
    """Five orders one second apart: #1 filled, #2 canceled, #3-#5 resting."""
    orders = [
        kit.order(qty="1", at=kit.at(1, 1)),
        kit.order(order_type="limit", limit="90", at=kit.at(1, 2)),
        kit.order(order_type="limit", limit="91", at=kit.at(1, 3)),
        kit.order(order_type="limit", limit="92", at=kit.at(1, 4)),
        kit.order(order_type="limit", limit="93", at=kit.at(1, 5)),
    ]
    kit.engine.cancel(orders[1].broker_order_id, kit.at(1, 6))
    return [o.client_order_id for o in orders]


def cids(orders):
    return [o.client_order_id for o in orders]


def test_list_by_status_oldest_first(kit, five):
    assert cids(kit.engine.list("open")) == five[2:]
    assert cids(kit.engine.list("closed")) == five[:2]
    assert cids(kit.engine.list("all")) == five
    assert [o.status for o in kit.engine.list("closed")] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
    ]


def test_list_pages_with_after_and_limit(kit, five):
    first_page = kit.engine.list("all", after=None, limit=2)
    assert cids(first_page) == five[:2]

    second_page = kit.engine.list("all", after=first_page[-1].submitted_at, limit=2)
    assert cids(second_page) == five[2:4]

    third_page = kit.engine.list("all", after=second_page[-1].submitted_at, limit=2)
    assert cids(third_page) == five[4:]
    assert kit.engine.list("all", after=third_page[-1].submitted_at) == []


def test_after_is_strict_and_until_bounds_the_other_end(kit, five):
    assert cids(kit.engine.list("all", after=kit.at(1, 3))) == five[3:]
    assert cids(kit.engine.list("all", until=kit.at(1, 3))) == five[:2]


def test_list_newest_first_like_alpacas_default(kit, five):
    assert cids(kit.engine.list("all", limit=2, direction="desc")) == [five[4], five[3]]


def test_list_rejects_a_bad_limit_or_status(kit):
    with pytest.raises(ValueError):
        kit.engine.list("open", limit=0)
    with pytest.raises(ValueError):
        kit.engine.list("pending")  # type: ignore[arg-type]


def test_get_by_either_id_returns_the_current_snapshot(kit):
    order = kit.order(qty="150", cid="team1-XYZ")
    kit.feed(1, kit.bar(1, "100.50"))

    by_id = kit.engine.get(order.broker_order_id)
    by_client = kit.engine.get_by_client_id("team1-XYZ")

    assert by_id == by_client
    assert (by_id.filled_qty, by_id.status) == (D("150"), OrderStatus.FILLED)
    # (100 x 100.02 + 50 x 100.53) / 150
    assert by_id.filled_avg_price == D("100.19")


def test_list_filters_by_symbol(make_kit):
    k = make_kit()
    k.feed(0, k.bar(0, "100"), k.bar(0, "200", symbol="MSFT"))
    a = k.order(order_type="limit", limit="90")
    m = k.order(order_type="limit", limit="190", symbol="MSFT")

    assert cids(k.engine.list("open", symbols=["MSFT"])) == [m.client_order_id]
    assert cids(k.engine.list("open", symbols=["AAPL", "MSFT"])) == [
        a.client_order_id,
        m.client_order_id,
    ]
