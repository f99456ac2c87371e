"""The file store: the layout, fsynced appends, atomic rewrites, torn lines, newest-first reads."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import Order
from qtc.store.files import FileStore
from qtc.store.records import TradeRecord, order_from_dict, order_to_dict

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
D = Decimal


def trade(n: int, team: str = "alpha") -> TradeRecord:
    return TradeRecord(
        team_id=team,
        order_id=f"{team}-{n:026d}",
        broker_order_id=f"b-{n}",
        execution_id=f"e-{n}",
        symbol="AAPL",
        side=Side.BUY,
        quantity=D("1.5"),
        execution_price=D("100.25"),
        requested_price=D("100"),
        order_type=OrderType.LIMIT,
        timestamp=T0 + timedelta(seconds=n),
        filled_qty=D("1.5"),
    )


def order(n: int, status: OrderStatus = OrderStatus.NEW) -> Order:
    return Order(
        order_id=f"alpha-{n:026d}",
        team_id="alpha",
        symbol="AAPL",
        side=Side.SELL,
        quantity=D(10),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=D("101.5"),
        requested_price=D("101.5"),
        created_at=T0,
        updated_at=T0,
        status=status,
        extra={"confidence": 0.7},
    )


def test_trade_lines_have_the_competition_fields_with_decimal_strings(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.append_trade(trade(1))
    line = json.loads((tmp_path / "team" / "alpha" / "trades.jsonl").read_text())
    assert line == {
        "team_id": "alpha",
        "symbol": "AAPL",
        "side": "buy",
        "quantity": "1.5",
        "requested_price": "100",
        "execution_price": "100.25",
        "order_type": "limit",
        "timestamp": "2026-03-02T14:30:01+00:00",
        "broker_order_id": "b-1",
        "order_id": f"alpha-{1:026d}",
        "execution_id": "e-1",
        "filled_qty": "1.5",
    }
    assert store.load_trades("alpha") == [trade(1)]
    assert store.fsyncs.count == 1
    assert store.team_ids() == ["alpha"]


def test_recent_lines_are_newest_first_across_read_blocks(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.append_trade(trade(0))
    path = tmp_path / "team" / "alpha" / "trades.jsonl"
    with path.open("a") as f:  # about 900 KB: many 64 KB blocks (written without fsync)
        f.writelines(json.dumps(trade(n).to_json()) + "\n" for n in range(1, 3000))
    recent = store.recent_trades("alpha", 1500)
    assert [r["execution_id"] for r in recent] == [f"e-{n}" for n in range(2999, 1499, -1)]
    assert store.recent_trades("alpha", 5000)[-1]["execution_id"] == "e-0"
    assert store.recent_trades("beta", 5) == []


def test_open_orders_are_rewritten_atomically_and_removed_when_none(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    path = tmp_path / "team" / "alpha" / "pending_orders.jsonl"
    store.save_open_orders_of({"alpha": [order(1), order(2)]})
    assert [o.order_id for o in store.load_open_orders("alpha")] == [
        order(1).order_id,
        order(2).order_id,
    ]
    store.save_open_orders_of({"alpha": [order(2)]})
    assert store.load_open_orders("alpha") == [order(2)]
    assert not path.with_name(path.name + ".tmp").exists()
    store.save_open_orders_of({"alpha": []})
    assert not path.exists()
    assert store.load_open_orders("alpha") == []


def test_many_teams_open_orders_are_rewritten_with_two_syncs(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    teams = {f"t{n:03d}": [order(n)] for n in range(50)}
    store.save_open_orders_of(teams)
    assert store.fsyncs.count == 2  # temp files, then renames: not two per team
    assert {t: store.load_open_orders(t) for t in teams} == teams


def test_intents_of_a_batch_take_one_fsync_and_read_back_until_dropped(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    batch = [order(n) for n in range(20)]
    store.append_intents(batch)
    assert store.fsyncs.count == 1
    assert store.load_intents() == batch
    assert (tmp_path / "intents.jsonl").stat().st_mode & 0o077 == 0
    first = store.rotate_intents()
    later = [order(n) for n in range(20, 25)]
    store.append_intents(later)  # while a rewrite of the first generation runs
    assert store.load_intents() == batch + later
    second = store.rotate_intents()
    assert second > first
    store.drop_intents(first)
    assert store.load_intents() == later
    store.drop_intents(second)
    assert store.load_intents() == []
    assert sorted(p.name for p in tmp_path.glob("intents*")) == []


def test_order_round_trips_through_json(tmp_path: Path) -> None:
    original = order(3, OrderStatus.PARTIALLY_FILLED)
    original.filled_qty = D("4")
    original.filled_avg_price = D("101.75")
    original.broker_order_id = "b-3"
    assert order_from_dict(json.loads(json.dumps(order_to_dict(original)))) == original
    store = FileStore(tmp_path)
    store.append_order_history(original)
    assert store.load_order_history("alpha") == [original]


def test_torn_last_line_is_skipped_then_cut_before_the_next_append(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    store = FileStore(tmp_path)
    store.append_trade(trade(1))
    path = tmp_path / "team" / "alpha" / "trades.jsonl"
    with path.open("a") as f:
        f.write('{"team_id": "alpha", "sym')
    reader = FileStore(tmp_path)
    assert reader.load_trades("alpha") == [trade(1)]
    assert reader.recent_trades("alpha", 10)[0]["execution_id"] == "e-1"
    assert "torn last line" in caplog.text
    reader.append_trade(trade(2))
    assert [json.loads(x)["execution_id"] for x in path.read_text().splitlines()] == ["e-1", "e-2"]


def test_snapshots_by_day_and_errors_newest_first(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.append_snapshot("alpha", T0, {"cash": "1"})
    store.append_snapshot("alpha", T0 + timedelta(days=1), {"cash": "2"})
    folder = tmp_path / "team" / "alpha" / "portfolio"
    assert sorted(p.name for p in folder.iterdir()) == ["2026-03-02.jsonl", "2026-03-03.jsonl"]
    store.append_error(
        "alpha", {"timestamp": "t1", "phase": "strategy", "message": "boom", "signal": None}
    )
    store.append_error(
        "alpha", {"timestamp": "t2", "phase": "order", "message": "no", "signal": {"a": 1}}
    )
    assert [e["message"] for e in store.recent_errors("alpha", 10)] == ["no", "boom"]
    assert [e["message"] for e in store.recent_errors("alpha", 1)] == ["no"]
