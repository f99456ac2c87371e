"""Restarts: orders that moved while the process was down, write-ahead healing, torn files,
lost orders and orders no team placed."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from tests.support.waiting import eventually
from tests.support.wrapping import Wrapped

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.errors import OrderNotFound
from qtc.domain.ids import new_order_id
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.domain.signals import OrderIntent

from .conftest import intent

D = Decimal


def limit(qty: str, price: str = "99.5", tif: str = "gtc") -> OrderIntent:
    return intent(qty=qty, price=price, tif=tif)


class Crash(BaseException):
    """The process dies here (nothing after this line runs)."""


def exchange_totals(kit: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for e in kit.engine.executions:
        out[e.client_order_id] = out.get(e.client_order_id, D(0)) + e.qty
    return out


def ledger_totals(kit: Any, team: str = "alpha") -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r in kit.ledger(team):
        out[r.order_id] = out.get(r.order_id, D(0)) + r.quantity
    return out


async def test_restart_learns_what_happened_while_down(kit: Any) -> None:
    first = kit.tracker
    await first.load()
    a = await first.submit("alpha", limit("10"))
    c = await first.submit("alpha", limit("60"))
    b = await first.submit("alpha", limit("500"))
    await kit.pump()
    # the process is down from here: the exchange goes on without it
    kit.feed(1, kit.bar(1, "99.5", volume="500"))  # budget 50: a 10 (filled), c 40
    kit.engine.cancel(c.broker_order_id, kit.clock.now())
    kit.feed(2, kit.bar(2, "99.5", volume="300"))  # budget 30: b 30
    kit.skip()

    second = kit.new_tracker()
    result = await second.load()
    assert result.fetched == 2  # a and c are no longer open at the exchange
    assert (
        ledger_totals(kit)
        == exchange_totals(kit)
        == {
            a.order_id: D(10),
            c.order_id: D(40),
            b.order_id: D(30),
        }
    )
    history = {
        h["order_id"]: (h["status"], h["filled_qty"]) for h in kit.lines("alpha", "orders.jsonl")
    }
    assert history == {a.order_id: ("filled", "10"), c.order_id: ("canceled", "40")}
    pending = kit.lines("alpha", "pending_orders.jsonl")
    assert [(p["order_id"], p["status"], p["filled_qty"]) for p in pending] == [
        (b.order_id, "partially_filled", "30")
    ]
    assert second.portfolio("alpha") == kit.replay("alpha")
    assert second.portfolio("alpha").quantity("AAPL") == D(80)

    # a third start over the same files books nothing twice
    third = kit.new_tracker()
    await third.load()
    assert ledger_totals(kit) == exchange_totals(kit)
    assert third.portfolio("alpha") == second.portfolio("alpha")
    assert third.get_order("alpha", a.order_id).status is OrderStatus.FILLED


async def test_write_ahead_heals_a_crash_around_the_submit(kit: Any) -> None:
    calls = []

    async def dying_submit(request: OrderRequest) -> BrokerOrder:
        calls.append(request.client_order_id)
        if len(calls) == 2:
            await kit.broker.submit(request)  # the exchange has it; the answer is lost
        raise Crash()

    dying = kit.new_tracker(broker=Wrapped(kit.broker, submit=dying_submit))
    await dying.load()
    for _ in range(2):
        with pytest.raises(Crash):
            await dying.submit("alpha", limit("10", price="99"))
    # written ahead to the intent log (the team's file is rewritten later, in a batch)
    intents = (kit.data_dir / "intents.jsonl").read_text().splitlines()
    stored = [json.loads(line) for line in intents]
    assert [(o["order_id"], o["status"]) for o in stored] == [(c, "pending_new") for c in calls]
    assert kit.lines("alpha", "pending_orders.jsonl") == []

    tracker = kit.new_tracker()
    await tracker.load()
    lost, reached = (tracker.get_order("alpha", c) for c in calls)
    assert lost.status is OrderStatus.REJECTED
    assert "never reached the broker" in lost.reason
    assert reached.status is OrderStatus.NEW and reached.broker_order_id is not None
    assert [o["order_id"] for o in kit.lines("alpha", "pending_orders.jsonl")] == [calls[1]]
    assert calls[0] in kit.lines("alpha", "errors.jsonl")[0]["message"]
    assert tracker.free_cash("alpha") == D(100000) - D(990)


async def test_a_batch_is_written_ahead_with_one_fsync_and_survives_a_crash_before_sending(
    kit: Any,
) -> None:
    await kit.tracker.load()
    store = kit.tracker.store
    orders = [kit.tracker.prepare(t, limit("5", price="99")) for t in ("alpha", "beta", "alpha")]
    before = store.fsyncs.count
    kit.tracker.write_ahead(orders)
    assert store.fsyncs.count - before == 1  # one group commit for the batch, not one each
    # the process dies before any is sent: each is found on restart, and settled
    tracker = kit.new_tracker()
    await tracker.load()
    for order in orders:
        settled = tracker.get_order(order.team_id, order.order_id)
        assert settled.status is OrderStatus.REJECTED
        assert "never reached the broker" in settled.reason
    assert kit.lines("alpha", "pending_orders.jsonl") == []
    assert not list(kit.data_dir.glob("intents*.jsonl"))  # all in the teams' files now
    assert tracker.free_cash("alpha") == D(100000)


async def test_written_ahead_orders_of_a_team_left_out_of_the_next_run_are_kept(
    kit: Any,
) -> None:
    await kit.tracker.load()
    order = kit.tracker.prepare("beta", limit("5", price="99"))
    kit.tracker.write_ahead([order])  # then the process dies
    without_beta = kit.new_tracker(teams={"alpha": D(100000)})
    await without_beta.load()
    assert [o["order_id"] for o in kit.lines("beta", "pending_orders.jsonl")] == [order.order_id]
    again = kit.new_tracker()
    await again.load()  # beta is back: its order is settled like any written-ahead order
    assert again.get_order("beta", order.order_id).status is OrderStatus.REJECTED


async def test_torn_last_line_is_skipped_with_a_warning(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await kit.tracker.load()
    await kit.tracker.submit("alpha", limit("30", price="101"))  # fills at once
    await kit.pump()
    trades = kit.team_dir("alpha") / "trades.jsonl"
    whole = trades.read_text()
    with trades.open("a") as f:
        f.write('{"team_id": "alpha", "symbol": "AAPL", "side": "bu')  # the crash cut it here
    caplog.set_level(logging.WARNING)
    tracker = kit.new_tracker()
    await tracker.load()
    assert "torn" in caplog.text and "trades.jsonl" in caplog.text
    assert tracker.portfolio("alpha").quantity("AAPL") == D(30)
    assert tracker.portfolio("alpha") == kit.replay("alpha")
    await tracker.submit("alpha", limit("5", price="101"))
    await kit.pump()
    assert trades.read_text().startswith(whole)
    assert [r.quantity for r in kit.ledger("alpha")] == [D(30), D(5)]


async def test_an_order_the_broker_lost_is_closed_after_three_real_not_found(kit: Any) -> None:
    counter = iter(range(100))

    async def ghost_submit(request: OrderRequest) -> BrokerOrder:
        now = kit.clock.now()
        return BrokerOrder(
            broker_order_id=f"ghost-{next(counter)}",
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            qty=request.qty,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            limit_price=request.limit_price,
            status=OrderStatus.NEW,
            filled_qty=D(0),
            filled_avg_price=None,
            submitted_at=now,
            updated_at=now,
        )

    async def accept_cancel(broker_order_id: str) -> None:
        return None

    broker = Wrapped(kit.broker, submit=ghost_submit, cancel=accept_cancel)
    tracker = kit.new_tracker(broker=broker)
    await tracker.load()
    lost = await tracker.submit("alpha", limit("10"))
    canceling = await tracker.submit("alpha", limit("10"))
    await tracker.cancel("alpha", canceling.order_id)
    for round_ in (1, 2):
        result = await tracker.reconcile()
        assert lost.status is OrderStatus.NEW and lost.not_found_count == round_
        assert result.lost == 0
    result = await tracker.reconcile()
    assert result.lost == 1
    assert lost.status is OrderStatus.REJECTED
    assert lost.reason == "not found at broker after 3 lookups"
    assert kit.lines("alpha", "orders.jsonl")[0]["order_id"] == lost.order_id
    # only the broker says how a pending cancel ended
    for _ in range(3):
        await tracker.reconcile()
    assert canceling.status is OrderStatus.PENDING_CANCEL
    await eventually(
        lambda: (
            [o["order_id"] for o in kit.lines("alpha", "pending_orders.jsonl")]
            == [canceling.order_id]
        ),
        what="pending_orders.jsonl to hold only the pending cancel",
    )


async def test_a_timeout_is_not_a_strike(kit: Any) -> None:
    from qtc.domain.errors import BrokerUnavailable

    async def flaky_get(broker_order_id: str) -> BrokerOrder:
        raise BrokerUnavailable("timeout")

    await kit.tracker.load()
    order = await kit.tracker.submit("alpha", limit("10"))
    await kit.pump()
    kit.engine.cancel(order.broker_order_id, kit.clock.now())
    kit.skip()
    flaky = kit.new_tracker(broker=Wrapped(kit.broker, get_order=flaky_get))
    await flaky.load()
    for _ in range(3):
        await flaky.reconcile()
    reloaded = flaky.get_order("alpha", order.order_id)
    assert reloaded.status is OrderStatus.NEW and reloaded.not_found_count == 0
    healthy = kit.new_tracker()
    await healthy.load()
    assert healthy.get_order("alpha", order.order_id).status is OrderStatus.CANCELED


async def test_orders_no_team_placed_are_logged_never_booked(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await kit.tracker.load()
    for cid in ("placed-by-hand", new_order_id("gamma")):
        request = OrderRequest(
            client_order_id=cid,
            symbol="AAPL",
            side=Side.BUY,
            qty=D(5),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            limit_price=D("99.9"),
        )
        kit.engine.submit(request, kit.clock.now())
        kit.engine.submit(
            replace(request, client_order_id=cid + "x", limit_price=D(101)), kit.clock.now()
        )
    await kit.pump()
    result = await kit.tracker.reconcile()
    assert result.unattributed == 2
    assert "Unattributed order at broker" in caplog.text
    assert kit.engine.executions  # they did trade at the exchange
    for team in ("alpha", "beta"):
        assert kit.ledger(team) == []
        assert kit.tracker.portfolio(team).fill_count == 0
    assert not (kit.data_dir / "team" / "gamma").exists()
    with pytest.raises(OrderNotFound):
        await kit.broker.get_order_by_client_id("nobody")
