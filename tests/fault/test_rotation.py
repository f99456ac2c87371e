"""(make test-fault) A competition running across a month end rotates its files into monthly
segments: no line is lost or moved, the API still finds every order and fill (past memory
retention too), and a restart replays the same portfolios from all segments."""

from __future__ import annotations

import json
import signal
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.run.conftest import clean_env
from tests.run.month_end import (
    CAPITAL,
    QUIET_FROM,
    RUN_START,
    TEAMS,
    concatenated,
    free_port,
    issue_key,
    next_minute,
    records,
    run_command,
    segment_files,
)
from tests.support.processes import Processes
from tests.support.waiting import wait_until

from qtc.domain.portfolio import Portfolio
from qtc.store.records import TradeRecord

# closed orders leave memory ~3 simulated minutes after they close, checked every 30 s
RETENTION = {"QTC_RETENTION_DAYS": "0.002", "QTC_CLEANUP_INTERVAL": "0.05"}
TIME_FIELD = {"trades": "timestamp", "orders": "updated_at", "errors": "timestamp"}
KINDS = (("trades", "trades.jsonl"), ("orders", "orders.jsonl"), ("errors", "errors.jsonl"))


def _all_pages(api: httpx.Client, team_id: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = api.get(f"/api/v1/team/{team_id}/orders", params=params).json()
        orders += page["orders"]
        if page["next_after"] is None:
            return orders
        params["after"] = page["next_after"]


def _check_the_api_finds_everything(api: httpx.Client, data: Path, team_id: str) -> int:
    """Every order in the files answers by id, the history pages list each once, and the
    trades route returns every ledger line; returns how many orders were checked."""
    team_dir = data / "team" / team_id
    closed: dict[str, dict[str, Any]] = {}
    for record in records(concatenated(team_dir, "orders", "orders.jsonl")):
        closed[record["order_id"]] = record
    latest = dict(closed)
    pending = team_dir / "pending_orders.jsonl"
    for raw in pending.read_text().splitlines() if pending.exists() else []:
        order = json.loads(raw)
        latest.setdefault(order["order_id"], order)
    assert len(closed) > 20
    for order_id, line in latest.items():
        answer = api.get(f"/api/v1/team/{team_id}/orders/{order_id}")
        assert answer.status_code == 200, (order_id, answer.text)
        shown = answer.json()
        # an open order may still fill meanwhile; a closed one is final
        fields = ["order_id", "symbol", "side", "created_at", "quantity", "limit_price"]
        if order_id in closed:
            fields += ["status", "filled_qty", "updated_at"]
        for field in fields:
            assert shown[field] == line[field], (order_id, field)
    listed = [o["order_id"] for o in _all_pages(api, team_id)]
    assert sorted(listed) == sorted(latest), "the order history lists every order once"
    trades = api.get(f"/api/v1/team/{team_id}/trades", params={"limit": 1000}).json()["trades"]
    ledger = records(concatenated(team_dir, "trades", "trades.jsonl"))  # maybe a fill more
    newest_first = [t["execution_id"] for t in reversed(ledger)]
    assert [t["execution_id"] for t in trades] == newest_first[len(ledger) - len(trades) :]
    assert len(ledger) - len(trades) <= 2
    for order_id, line in closed.items():
        fills = api.get(f"/api/v1/team/{team_id}/trades", params={"order_id": order_id}).json()
        mine = [t for t in ledger if t["order_id"] == order_id]
        assert fills["trades"] == mine, order_id
        assert sum(Decimal(t["quantity"]) for t in mine) == Decimal(line["filled_qty"])
    return len(latest)


def _replayed(data: Path, team_id: str) -> Portfolio:
    lines = records(concatenated(data / "team" / team_id, "trades", "trades.jsonl"))
    return Portfolio.replay(Decimal(CAPITAL), [TradeRecord.from_json(t).to_fill() for t in lines])


def _last_snapshot(data: Path, team_id: str) -> dict[str, Any]:
    days = sorted((data / "team" / team_id / "portfolio").glob("*.jsonl"))
    last: dict[str, Any] = json.loads(days[-1].read_text().splitlines()[-1])
    return last


def _same_book(snapshot: dict[str, Any], portfolio: Portfolio) -> None:
    assert Decimal(snapshot["cash"]) == portfolio.cash
    assert snapshot["fill_count"] == portfolio.fill_count
    held = {s: Decimal(p["quantity"]) for s, p in snapshot["positions"].items()}
    assert held == {s: p.quantity for s, p in portfolio.positions.items()}


@pytest.mark.slow
def test_rotation_under_a_running_competition_keeps_every_line_and_every_order(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    keys = {team_id: issue_key(data, team_id) for team_id in TEAMS}
    port = free_port()
    seen: dict[tuple[str, str], list[list[bytes]]] = {}
    command = run_command(data, "--start", RUN_START.isoformat(), "--duration", "60")
    command += ["--speed", "600", "--api-port", str(port)]
    checked = 0
    with Processes() as started:
        run = started.start(command, tmp_path / "run.out", clean_env(**RETENTION))
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

        def observe() -> None:
            for team_id in TEAMS:
                for kind, live in KINDS:
                    lines = concatenated(data / "team" / team_id, kind, live)
                    seen.setdefault((team_id, kind), []).append(lines)

        def quiet() -> bool:
            observe()
            assert run.poll() is None, (tmp_path / "run.out").read_text()[-2000:]
            at = next_minute(data)
            return at is not None and at >= QUIET_FROM

        wait_until(quiet, 120, "the strategies to stop trading")
        log = (tmp_path / "qtc.log").read_text()
        assert "Cleaned up" in log, "closed orders left memory before the API is asked"
        assert "Rotated" in log
        for team_id in TEAMS:
            api.params = httpx.QueryParams(key=keys[team_id])
            checked += _check_the_api_finds_everything(api, data, team_id)
        assert run.poll() is None, "the run was still running while the API was checked"
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 0, (tmp_path / "run.out").read_text()[-2000:]

    for (team_id, kind), observations in seen.items():
        final = concatenated(data / "team" / team_id, kind, dict(KINDS)[kind])
        for lines in observations:
            assert final[: len(lines)] == lines, f"{team_id} {kind}: a line moved or vanished"
        (segment,) = segment_files(data / "team" / team_id, kind)
        assert segment.name == "2025-11.jsonl"
        index = json.loads(segment.with_name("2025-11.index.json").read_text())
        assert index["lines"] == len(segment.read_bytes().splitlines())
        assert index["last_time"] < "2025-12"
        live = data / "team" / team_id / dict(KINDS)[kind]
        first = json.loads(live.read_text().splitlines()[0])
        assert first[TIME_FIELD[kind]] >= "2025-12", "December starts the live file"
    assert checked > 40

    before = {t: _last_snapshot(data, t) for t in TEAMS}
    for team_id in TEAMS:
        _same_book(before[team_id], _replayed(data, team_id))
    restart = subprocess.run(
        run_command(data, "--duration", "1", "--speed", "600", "--no-api"),
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert restart.returncode == 0, restart.stderr[-2000:]
    for team_id in TEAMS:
        after = _last_snapshot(data, team_id)
        assert after["timestamp"] > before[team_id]["timestamp"]
        _same_book(after, _replayed(data, team_id))
        if after["fill_count"] == before[team_id]["fill_count"]:
            assert after["cash"] == before[team_id]["cash"]
            assert after["positions"] == before[team_id]["positions"]
