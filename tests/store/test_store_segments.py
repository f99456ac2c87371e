"""Monthly segments of the append-only files: rotation on append, reads across segments,
`qtc compact` of files that span months, its refusal under a run's lock, and crash recovery."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import Order
from qtc.progress import DataDirLock
from qtc.store.files import FileStore
from qtc.store.records import TradeRecord, order_to_dict

QTC = [sys.executable, "-m", "qtc"]
TIMES = [  # a late November line after December began stays where it was written
    "2025-11-28T15:00:00+00:00",
    "2025-11-30T23:59:00+00:00",
    "2025-12-01T00:00:00+00:00",
    "2025-11-30T23:59:30+00:00",
    "2025-12-31T23:59:00+00:00",
    "2026-01-02T15:00:00+00:00",
]


def _trade(n: int, at: str) -> TradeRecord:
    return TradeRecord(
        team_id="alpha",
        order_id=f"alpha-{n}",
        broker_order_id=f"b-{n}",
        execution_id=f"x-{n}",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(1),
        execution_price=Decimal("100.5"),
        requested_price=Decimal(100),
        order_type=OrderType.MARKET,
        timestamp=datetime.fromisoformat(at),
        filled_qty=Decimal(1),
    )


def _order(n: int, at: str) -> Order:
    moment = datetime.fromisoformat(at)
    return Order(
        order_id=f"alpha-{n}",
        team_id="alpha",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        limit_price=None,
        requested_price=Decimal(100),
        created_at=moment,
        updated_at=moment,
        status=OrderStatus.FILLED,
        filled_qty=Decimal(1),
        filled_avg_price=Decimal("100.5"),
        broker_order_id=f"b-{n}",
    )


def _files(team: Path) -> list[str]:
    return sorted(str(p.relative_to(team)) for p in team.rglob("*") if p.is_file())


def _concat(team: Path, kind: str, live: str) -> bytes:
    segments = sorted((team / "segments" / kind).glob("????-??.jsonl"))
    return b"".join(p.read_bytes() for p in [*segments, team / live] if p.exists())


def test_appends_rotate_by_month_and_reads_see_every_segment(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for n, at in enumerate(TIMES):
        store.append_trade(_trade(n, at))
        store.append_order_history(_order(n, at))
    team = tmp_path / "team" / "alpha"
    assert _files(team) == [
        "orders.jsonl",
        "segments/orders/2025-11.index.json",
        "segments/orders/2025-11.jsonl",
        "segments/orders/2025-12.index.json",
        "segments/orders/2025-12.jsonl",
        "segments/trades/2025-11.index.json",
        "segments/trades/2025-11.jsonl",
        "segments/trades/2025-12.index.json",
        "segments/trades/2025-12.jsonl",
        "trades.jsonl",
    ]
    lines = (team / "segments" / "trades" / "2025-12.jsonl").read_text().splitlines()
    assert [json.loads(line)["timestamp"] for line in lines] == TIMES[2:5]
    index = json.loads((team / "segments" / "trades" / "2025-12.index.json").read_text())
    assert index["lines"] == 3 and index["first_time"] == TIMES[2]
    assert index["min_time"] == TIMES[3] and index["max_time"] == TIMES[4]
    assert index["order_ids"] == ["alpha-2", "alpha-3", "alpha-4", "b-2", "b-3", "b-4"]

    again = FileStore(tmp_path)  # a restart replays every segment in order
    assert [t.execution_id for t in again.load_trades("alpha")] == [f"x-{n}" for n in range(6)]
    assert [o.order_id for o in again.load_order_history("alpha")] == [
        f"alpha-{n}" for n in range(6)
    ]
    assert [t["execution_id"] for t in again.recent_trades("alpha", 4)] == [
        "x-5",
        "x-4",
        "x-3",
        "x-2",
    ]
    order = again.find_closed_order("alpha", "b-0")
    assert order is not None and order.order_id == "alpha-0"
    assert again.find_closed_order("alpha", "alpha-9") is None
    assert [t["execution_id"] for t in again.trades_of_order("alpha", "alpha-1")] == ["x-1"]
    newest = [o.order_id for o in again.closed_orders_newest_first("alpha")]
    assert newest == [f"alpha-{n}" for n in reversed(range(6))]


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> bytes:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def _unrotated(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A data dir as a run before rotation left it: live files spanning three months."""
    team = tmp_path / "team" / "alpha"
    written = {
        "trades": _write_lines(
            team / "trades.jsonl", [_trade(n, at).to_json() for n, at in enumerate(TIMES)]
        ),
        "orders": _write_lines(
            team / "orders.jsonl", [order_to_dict(_order(n, at)) for n, at in enumerate(TIMES)]
        ),
        "errors": _write_lines(
            team / "errors.jsonl", [{"timestamp": at, "phase": "x", "message": "m"} for at in TIMES]
        ),
    }
    for day in ("2025-11-29", "2025-11-30", "2025-12-01", "2026-01-02"):
        _write_lines(team / "portfolio" / f"{day}.jsonl", [{"timestamp": f"{day}T00:00:00+00:00"}])
    (tmp_path / "run_state.json").write_text(
        json.dumps({"next_minute": "2026-01-02T15:01:00+00:00"})
    )
    return team, written


def test_compact_splits_closed_months_out_and_keeps_every_byte_in_order(tmp_path: Path) -> None:
    team, written = _unrotated(tmp_path)
    done = subprocess.run(
        [*QTC, "compact", "--data-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "compacted months before 2026-01: 8 segments written, 3 daily" in done.stdout
    for kind in ("trades", "orders", "errors"):
        assert _concat(team, kind, f"{kind}.jsonl") == written[kind]
        names = sorted(p.name for p in (team / "segments" / kind).glob("*.jsonl"))
        assert names == ["2025-11.jsonl", "2025-12.jsonl"]
    assert (team / "trades.jsonl").read_text().count("\n") == 1  # January stays live
    assert sorted(p.name for p in (team / "portfolio").iterdir()) == ["2026-01-02.jsonl"]
    packed = (team / "segments" / "portfolio" / "2025-11.jsonl").read_text().splitlines()
    assert [json.loads(line)["timestamp"][:10] for line in packed] == ["2025-11-29", "2025-11-30"]
    store = FileStore(tmp_path)
    assert len(store.load_trades("alpha")) == 6
    assert store.last_snapshot("alpha") == {"timestamp": "2026-01-02T00:00:00+00:00"}

    again = subprocess.run(
        [*QTC, "compact", "--data-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert again.returncode == 0 and "0 segments written" in again.stdout


def test_compact_refuses_while_a_run_holds_the_data_directory(tmp_path: Path) -> None:
    team, _ = _unrotated(tmp_path)
    before = _files(team)
    lock = DataDirLock.acquire(tmp_path)  # what `qtc run` holds while it runs
    try:
        done = subprocess.run(
            [*QTC, "compact", "--data-dir", str(tmp_path)], capture_output=True, text=True
        )
    finally:
        lock.release()
    assert done.returncode == 3
    assert "is in use by another qtc run" in done.stderr
    assert "run qtc compact once it has stopped" in done.stderr
    assert _files(team) == before


def test_an_interrupted_split_is_finished_or_undone_before_the_ledger_is_read(
    tmp_path: Path,
) -> None:
    team, written = _unrotated(tmp_path)
    lines = written["trades"].splitlines(keepends=True)
    segments = team / "segments" / "trades"
    segments.mkdir(parents=True)
    # killed after writing the November part, before the rest (the commit): undone
    (segments / "2025-11.jsonl.part").write_bytes(b"".join(lines[:2]))
    assert [t.execution_id for t in FileStore(tmp_path).load_trades("alpha")] == [
        f"x-{n}" for n in range(6)
    ]
    assert not (segments / "2025-11.jsonl.part").exists()
    # killed after the rest was written, before the rename: finished
    (segments / "2025-11.jsonl.part").write_bytes(b"".join(lines[:2]))
    (team / "trades.jsonl.rest").write_bytes(b"".join(lines[2:]))
    assert [t.execution_id for t in FileStore(tmp_path).load_trades("alpha")] == [
        f"x-{n}" for n in range(6)
    ]
    assert _concat(team, "trades", "trades.jsonl") == written["trades"]
    assert not (team / "trades.jsonl.rest").exists()
