"""Every order type and class from a strategy's signals, through the tracker and the simulated
exchange: each is placed, legs are the team's orders, a replace keeps the old order's fills,
and every fill lands exactly once in the ledger at the exchange's price."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.runner import run_session
from qtc.wiring import build_components

from .conftest import (
    EXAMPLES,
    MIDDAY,
    OWN,
    SESSION_OPEN,
    fast_settings,
    lines,
    team,
    team_file,
)

TEAM = "types"
MINUTES = 40


def latest(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Each order as last written to the team's orders file."""
    orders: dict[str, dict[str, Any]] = {}
    for row in lines(team_file(data_dir, TEAM, "orders.jsonl")):
        orders[row["order_id"]] = row
    return orders


async def test_every_order_type_is_placed_tracked_and_filled_once(tmp_path: Path) -> None:
    specs = [team(TEAM, EXAMPLES / "every_order_type")]
    components = await build_components(
        fast_settings(tmp_path, MINUTES), specs, start=MIDDAY, market="simulated", bars=[]
    )
    await run_session(components)
    tracker = components.tracker
    errors = lines(team_file(tmp_path, TEAM, "errors.jsonl"))
    assert errors == [], errors

    views = tracker.list_orders(TEAM, "all", 1000, None)
    assert {o.order_id for o in views} >= set(latest(tmp_path)), "an order only on disk"
    by_type: dict[str, list[Any]] = defaultdict(list)
    for order in views:
        assert order is not None
        by_type[order.order_type.value].append(order)
    assert {"market", "limit", "stop", "stop_limit", "trailing_stop"} <= set(by_type)
    assert not [o for o in views if o is not None and o.status.value == "rejected"]

    # legs are the team's orders, linked to the order that placed them
    legs: dict[str, list[Any]] = defaultdict(list)
    for order in views:
        if order is not None and order.parent_id is not None:
            legs[order.parent_id].append(order)
    parents = {p: tracker.get_order(TEAM, p) for p in legs}
    classes = sorted(p.order_class.value for p in parents.values() if p is not None)
    assert classes == ["bracket", "oco", "oto"]
    counts = {parents[p].order_class.value: len(ls) for p, ls in legs.items()}  # type: ignore[union-attr]
    assert counts == {"bracket": 2, "oco": 1, "oto": 1}
    for parent_id, group in legs.items():
        parent = parents[parent_id]
        assert parent is not None
        exits = [*group, parent] if parent.order_class.value == "oco" else group
        filled_exits = [o for o in exits if o.filled_qty > 0]
        assert len(filled_exits) <= 1, f"two exits of {parent_id} filled"

    # the replaced order keeps its (no) fills; its replacement names it, then was canceled
    replaced = [o for o in views if o is not None and o.status.value == "replaced"]
    assert len(replaced) == 1
    new = tracker.get_order(TEAM, replaced[0].replaced_by or "")
    assert new is not None and new.replaces == replaced[0].order_id
    assert new.limit_price is not None and replaced[0].limit_price is not None
    assert new.status.value == "canceled" and new.limit_price > replaced[0].limit_price

    # every execution at the exchange is one ledger line, at its price, and nothing else
    journal = components.journal
    assert journal is not None
    broker_ids = {o.broker_order_id: o.order_id for o in views if o is not None}
    exchange = sorted(
        (broker_ids[e.broker_order_id], e.execution_id, e.qty, e.price)
        for e in journal.executions
        if e.broker_order_id in broker_ids
    )
    ledger = sorted(
        (r["order_id"], r["execution_id"], Decimal(r["quantity"]), Decimal(r["execution_price"]))
        for r in lines(team_file(tmp_path, TEAM, "trades.jsonl"))
    )
    assert ledger == exchange
    assert len(journal.executions) == len(exchange), "an execution the team does not know of"
    fired = {o.order_type.value for o in views if o is not None and o.filled_qty > 0}
    assert {"market", "limit"} <= fired and fired & {"stop", "trailing_stop", "stop_limit"}
    # a notional buy spent (about) its amount on what it came to
    (notional,) = [o for o in views if o.notional is not None]
    assert notional.status.value == "filled" and notional.quantity == notional.filled_qty
    assert notional.filled_avg_price is not None
    spent = notional.filled_qty * notional.filled_avg_price
    assert Decimal(999) < spent <= Decimal(1000)
    # the portfolio is the fold of the ledger
    cash = Decimal(100_000)
    for r in lines(team_file(tmp_path, TEAM, "trades.jsonl")):
        signed = Decimal(r["quantity"]) * Decimal(r["execution_price"])
        cash += -signed if r["side"] == "buy" else signed
    assert tracker.portfolio(TEAM).cash == cash


async def test_a_stock_order_sent_before_the_open_waits_for_it(tmp_path: Path) -> None:
    specs = [team("early", OWN / "before_the_open")]
    start = SESSION_OPEN - timedelta(minutes=10)
    components = await build_components(
        fast_settings(tmp_path, 20), specs, start=start, market="simulated", bars=[]
    )
    await run_session(components)
    errors = lines(team_file(tmp_path, "early", "errors.jsonl"))
    assert [e["message"] for e in errors] == [
        "market closed for AAPL: a ioc order cannot wait for the open"
    ]
    (order,) = components.tracker.list_orders("early", "all", 10, None)
    assert order.status.value == "filled" and order.quantity == 3
    (fill,) = lines(team_file(tmp_path, "early", "trades.jsonl"))
    assert datetime.fromisoformat(fill["timestamp"]) > SESSION_OPEN
