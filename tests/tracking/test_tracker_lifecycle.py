"""An order's whole life through the tracker, checked on the files and the portfolio."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from qtc.domain.enums import OrderStatus
from qtc.domain.errors import InvalidSignal, OrderClosed, UnknownOrder
from qtc.domain.signals import OrderIntent

from .conftest import intent

D = Decimal


def make_intent(**fields: str) -> OrderIntent:
    return intent(**fields, reason="test")


async def test_limit_order_partially_filled_over_minutes_then_canceled(kit: Any) -> None:
    await kit.tracker.load()
    order = await kit.tracker.submit("alpha", make_intent(qty="100", price="99.50"))
    await kit.pump()
    assert order.status is OrderStatus.NEW
    assert [o["order_id"] for o in kit.lines("alpha", "pending_orders.jsonl")] == [order.order_id]

    kit.feed(1, kit.bar(1, "100", low="99", volume="200"))  # 20 at 99.50
    await kit.pump()
    kit.feed(2, kit.bar(2, "99.40", volume="300"))  # 30 at 99.40
    await kit.pump()
    kit.feed(3, kit.bar(3, "99.30", volume="100"))  # 10 at 99.30
    await kit.pump()
    pending = kit.lines("alpha", "pending_orders.jsonl")
    assert pending[0]["status"] == "partially_filled"
    assert pending[0]["filled_qty"] == "60"

    result = await kit.tracker.cancel("alpha", order.order_id)
    assert result.status in (OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED)
    await kit.pump()

    executions = kit.executions_of(order.order_id)
    assert executions == [(D(20), D("99.5")), (D(30), D("99.4")), (D(10), D("99.3"))]
    ledger = kit.ledger("alpha")
    assert [(r.quantity, r.execution_price) for r in ledger] == executions
    assert [r.filled_qty for r in ledger] == [D(20), D(50), D(60)]
    assert all(r.order_id == order.order_id and r.requested_price == D("99.5") for r in ledger)

    portfolio = kit.tracker.portfolio("alpha")
    cost = sum(q * p for q, p in executions)
    assert portfolio.cash == D(100000) - cost
    assert portfolio.quantity("AAPL") == D(60)
    assert portfolio == kit.replay("alpha")

    history = kit.lines("alpha", "orders.jsonl")
    assert len(history) == 1
    assert history[0]["status"] == "canceled"
    assert history[0]["filled_qty"] == "60"
    assert history[0]["extra"] == {"reason": "test"}
    assert not (kit.team_dir("alpha") / "pending_orders.jsonl").exists()
    assert kit.tracker.open_orders("alpha") == []
    assert kit.tracker.get_order("alpha", order.order_id) is order
    assert kit.tracker.get_order("alpha", order.broker_order_id) is order


async def test_day_order_partially_filled_then_expired(kit: Any) -> None:
    await kit.tracker.load()
    order = await kit.tracker.submit("alpha", make_intent(qty="50", price="99"))
    kit.feed(1, kit.bar(1, "99", volume="100"))  # 10 at 99
    await kit.pump()
    await kit.broker.end_session()
    await kit.pump()
    assert order.status is OrderStatus.EXPIRED
    assert [(r.quantity, r.execution_price) for r in kit.ledger("alpha")] == [(D(10), D(99))]
    history = kit.lines("alpha", "orders.jsonl")
    assert [(h["status"], h["filled_qty"]) for h in history] == [("expired", "10")]
    assert kit.tracker.portfolio("alpha").quantity("AAPL") == D(10)
    assert not (kit.team_dir("alpha") / "pending_orders.jsonl").exists()


async def test_ioc_takes_what_is_there_and_cancels_the_rest(kit: Any) -> None:
    await kit.tracker.load()
    kit.engine.set_price("AAPL", D(100), liquidity=D(4))
    order = await kit.tracker.submit("alpha", make_intent(qty="10", price="101", tif="ioc"))
    await kit.pump()
    assert order.status is OrderStatus.CANCELED
    assert order.filled_qty == D(4)
    assert [(r.quantity, r.execution_price) for r in kit.ledger("alpha")] == kit.executions_of(
        order.order_id
    )
    assert sum(r.quantity for r in kit.ledger("alpha")) == D(4)
    assert kit.lines("alpha", "orders.jsonl")[0]["status"] == "canceled"


async def test_fok_fills_all_or_nothing(kit: Any) -> None:
    await kit.tracker.load()
    kit.engine.set_price("AAPL", D(100), liquidity=D(8))
    nothing = await kit.tracker.submit("alpha", make_intent(qty="10", price="101", tif="fok"))
    everything = await kit.tracker.submit("alpha", make_intent(qty="8", price="101", tif="fok"))
    await kit.pump()
    assert nothing.status is OrderStatus.CANCELED
    assert nothing.filled_qty == 0
    assert everything.status is OrderStatus.FILLED
    ledger = kit.ledger("alpha")
    assert [r.order_id for r in ledger] == [everything.order_id]
    assert ledger[0].quantity == D(8)
    statuses = {h["order_id"]: h["status"] for h in kit.lines("alpha", "orders.jsonl")}
    assert statuses == {nothing.order_id: "canceled", everything.order_id: "filled"}


async def test_market_order_fill_is_logged_at_its_real_price(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.tracker.load()
    caplog.set_level(logging.INFO, logger="qtc.tracker.test")
    order = await kit.tracker.submit("alpha", make_intent(qty="10", order_type="market"))
    await kit.pump()
    assert order.status is OrderStatus.FILLED
    assert f"Stored pending market order {order.order_id} for AAPL" in caplog.text
    assert f"Order {order.order_id} FILLED: AAPL @ 100.02 (requested: 100)" in caplog.text
    assert f"Updated order {order.order_id}: status=filled, filled=10/10" in caplog.text
    assert kit.tracker.portfolio("alpha").cash == D(100000) - D("1000.2")


async def test_fill_arriving_before_submit_returns_is_booked_once(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    real_submit = kit.broker.submit

    async def racing_submit(request: Any) -> Any:
        answer = await real_submit(request)
        await kit.pump()  # the stream wins the race against the submit's answer
        return answer

    kit.broker.submit = racing_submit
    order = await tracker.submit("alpha", make_intent(qty="10", order_type="market"))
    await kit.pump()
    assert order.status is OrderStatus.FILLED
    assert [r.quantity for r in kit.ledger("alpha")] == [D(10)]
    assert tracker.portfolio("alpha") == kit.replay("alpha")


async def test_broker_rejection_is_recorded_and_changes_nothing(kit: Any) -> None:
    await kit.tracker.load()
    before = kit.tracker.portfolio("alpha").cash
    # the exchange has never seen a MSFT price: a market order cannot be priced
    order = await kit.tracker.submit(
        "alpha", make_intent(symbol="MSFT", qty="1", order_type="market")
    )
    assert order.status is OrderStatus.REJECTED
    assert order.reason is not None and "no market price" in order.reason
    errors = kit.lines("alpha", "errors.jsonl")
    assert len(errors) == 1 and order.order_id in errors[0]["message"]
    assert errors[0]["phase"] == "order"
    assert kit.lines("alpha", "orders.jsonl")[0]["status"] == "rejected"
    assert kit.tracker.portfolio("alpha").cash == before
    assert kit.ledger("alpha") == []
    assert kit.tracker.errors("alpha", 10)[0]["message"] == errors[0]["message"]


async def test_orders_beyond_free_cash_or_shares_are_refused(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    await tracker.submit("beta", make_intent(qty="300", price="99"))  # reserves 29,700
    with pytest.raises(InvalidSignal, match="insufficient free cash"):
        await tracker.submit("beta", make_intent(qty="250", price="99"))  # needs 24,750
    with pytest.raises(InvalidSignal, match="insufficient free shares"):
        await tracker.submit("beta", make_intent(side="sell", qty="1", price="99"))
    assert len(tracker.open_orders("beta")) == 1
    tracker.flush()
    assert len(kit.lines("beta", "pending_orders.jsonl")) == 1
    assert tracker.free_cash("beta") == D(50000) - D(29700)


async def test_cancel_answers_clearly_for_unknown_foreign_and_closed_orders(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    order = await tracker.submit("alpha", make_intent(qty="10", price="90"))
    with pytest.raises(UnknownOrder):
        await tracker.cancel("alpha", "alpha-00000000000000000000000000")
    with pytest.raises(UnknownOrder):
        await tracker.cancel("beta", order.order_id)
    assert tracker.get_order("beta", order.order_id) is None
    await tracker.cancel("alpha", order.order_id)
    await kit.pump()
    with pytest.raises(OrderClosed) as closed:
        await tracker.cancel("alpha", order.order_id)
    assert closed.value.status == "canceled"


async def test_queries_and_live_events(kit: Any) -> None:
    tracker = kit.tracker
    await tracker.load()
    queue = tracker.subscribe("alpha")
    first = await tracker.submit("alpha", make_intent(qty="5", price="90"))
    second = await tracker.submit("alpha", make_intent(qty="5", order_type="market"))
    await kit.pump()
    assert [o.order_id for o in tracker.open_orders("alpha")] == [first.order_id]
    assert [o.order_id for o in tracker.list_orders("alpha", "all", 10)] == [
        second.order_id,
        first.order_id,
    ]
    assert [o.order_id for o in tracker.list_orders("alpha", "closed", 10)] == [second.order_id]
    assert tracker.list_orders("alpha", "all", 10, after=second.order_id) == [first]
    assert tracker.trades("alpha", 5)[0]["order_id"] == second.order_id
    kinds = []
    while not queue.empty():
        event = queue.get_nowait()
        assert event.team_id == "alpha"
        kinds.append(event.kind)
    assert "fill" in kinds and "order" in kinds
    tracker.unsubscribe("alpha", queue)
    assert tracker.open_orders("beta") == [] and tracker.trades("beta", 5) == []
