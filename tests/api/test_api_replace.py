"""Replacing an open order through the API: a new order takes its place, the old one keeps its
fills; changes an order does not allow, closed orders and other teams' orders are refused."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.signals import OrderIntent

if TYPE_CHECKING:
    from conftest import Stack


def test_a_replace_answers_the_new_order_and_the_old_one_ends_replaced(stack: Stack) -> None:
    old = stack.place("alpha", "AAPL", "buy", "300", "99.5")
    stack.trade_minute("AAPL", low="99", high="101", volume="1000")  # 100 of 300 fill
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", old.order_id).filled_qty == 100, "partial fill"
    )
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as http:
        answer = http.patch(f"/api/v1/team/alpha/orders/{old.order_id}", json={"price": "99.6"})
        assert answer.status_code == 200, answer.text
        new = answer.json()
        assert new["replaces"] == old.order_id and new["order_id"] != old.order_id
        assert (new["quantity"], new["limit_price"], new["filled_qty"]) == ("200", "99.6", "0")
        stack.wait_for(
            lambda: stack.tracker.get_order("alpha", old.order_id).status.value == "replaced",
            "the old order replaced",
        )
        before = http.get(f"/api/v1/team/alpha/orders/{old.order_id}").json()
        assert before["replaced_by"] == new["order_id"] and before["filled_qty"] == "100"
        trades = http.get("/api/v1/team/alpha/trades", params={"order_id": old.order_id}).json()
        assert sum(Decimal(t["quantity"]) for t in trades["trades"]) == 100

        # a closed order, another team's order, a change the order does not have
        assert (
            http.patch(
                f"/api/v1/team/alpha/orders/{old.order_id}", json={"price": "99"}
            ).status_code
            == 409
        )
        other = stack.place("beta", "AAPL", "buy", "1", "90")
        assert (
            http.patch(
                f"/api/v1/team/alpha/orders/{other.order_id}", json={"price": "91"}
            ).status_code
            == 404
        )
        market = stack.place("alpha", "NVDA", "buy", "1", "450")
        refused = http.patch(
            f"/api/v1/team/alpha/orders/{market.order_id}", json={"stop_price": "440"}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"] == "a limit order has no stop_price to change"
        unknown = http.patch(f"/api/v1/team/alpha/orders/{market.order_id}", json={"qty": 1})
        assert unknown.status_code == 422
        empty = http.patch(f"/api/v1/team/alpha/orders/{market.order_id}", json={})
        assert empty.status_code == 422
        assert "replace needs at least one of" in empty.json()["detail"]


def test_a_stop_order_shows_its_stop(stack: Stack) -> None:
    intent = OrderIntent(
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(5),
        order_type=OrderType.STOP,
        time_in_force=TimeInForce.GTC,
        limit_price=None,
        requested_price=Decimal(105),
        stop_price=Decimal(105),
    )
    order = stack.call(lambda: stack.tracker.submit("alpha", intent))
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as http:
        shown = http.get(f"/api/v1/team/alpha/orders/{order.order_id}").json()
    assert (shown["order_type"], shown["stop_price"], shown["status"]) == ("stop", "105", "new")
    assert "order_class" not in shown and "parent_id" not in shown
