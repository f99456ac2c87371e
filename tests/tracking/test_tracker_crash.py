"""SIGKILL at random points: no fill lost, none doubled, the portfolio is the ledger's replay.

The exchange is the local Alpaca-compatible one (`qtc exchange`, manual clock) in its own
process, so it outlives every kill; the tracker runs in a worker process speaking to it through
alpaca-py (AlpacaBroker), trading at random, and is killed with SIGKILL again and again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

import httpx
import pytest

from qtc.domain.portfolio import Portfolio
from qtc.exchange.server.control_token import control_headers
from qtc.store.records import TradeRecord

WORKER = Path(__file__).with_name("tracker_crash_worker.py")
CONTROL_TOKEN = "tracker-crash-control-token"  # what `running_exchange` starts with
KILLS = 22
SEED = int(os.environ.get("QTC_CRASH_SEED", "20261121"))
TEAMS = [f"team{i}" for i in range(4)]
INITIAL = Decimal("1000000")
# a fill learned by polling is priced from the broker's average, rounded to 1e-9
NOTIONAL_TOLERANCE = Decimal("0.00001")


def _pump_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.strip())
    lines.put("EOF")


def _wait_line(lines: queue.Queue[str], wanted: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} line in {timeout}s (saw {seen[-5:]})"
        line = lines.get(timeout=remaining)
        seen.append(line)
        if line.startswith(wanted):
            return seen
        assert line != "EOF", f"process ended before {wanted!r}: {seen[-5:]}"


class Proc:
    """A child process whose stdout lines are read on a thread."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log.open("a")
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(
            target=_pump_lines, args=(self.proc.stdout, self.lines), daemon=True
        ).start()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()


@contextlib.contextmanager
def running_exchange(folder: Path) -> Iterator[str]:
    """`qtc exchange` on a free port with a manual clock; yields its base URL."""
    args = [sys.executable, "-m", "qtc", "exchange", "--clock", "manual", "--port", "0"]
    args += ["--seed", "3", "--start", "2026-03-02T14:31:00Z", "--symbols", "AAPL", "MSFT"]
    args += ["--buying-power", "100000000", "--control-token", CONTROL_TOKEN]
    proc = Proc(args, folder / "exchange.log")
    try:
        seen = _wait_line(proc.lines, "QTC exchange base URL:", 60)
        yield seen[-1].split()[-1]
    finally:
        proc.kill()


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[str]:
    with running_exchange(tmp_path) as url:
        yield url


def _ledger(data_dir: Path) -> dict[str, list[TradeRecord]]:
    out = {}
    for team in TEAMS:
        path = data_dir / "team" / team / "trades.jsonl"
        text = path.read_text() if path.exists() else ""
        records = []
        for line in text.splitlines():
            try:
                records.append(TradeRecord.from_json(json.loads(line)))
            except ValueError:
                assert not text.endswith("\n") and text.endswith(line)  # only a torn tail
        out[team] = records
    return out


def _totals(pairs: list[tuple[str, Decimal, Decimal]]) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for order_id, qty, price in pairs:
        q, n = out.get(order_id, (Decimal(0), Decimal(0)))
        out[order_id] = (q + qty, n + qty * price)
    return out


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_doubles_no_fill(exchange: str, tmp_path: Path) -> None:
    assert kill_storm(exchange, tmp_path, KILLS, SEED) >= 20


def kill_storm(exchange: str, tmp_path: Path, runs: int, seed: int) -> int:
    """`runs` SIGKILLed tracker workers, then a last one that settles; asserts that no fill is
    lost or doubled and that memory equals the ledger's replay. Returns the kills made."""
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    http = httpx.Client(base_url=exchange, headers=control_headers(CONTROL_TOKEN), timeout=30)
    worker = [sys.executable, str(WORKER), str(data_dir), exchange]
    kills = 0
    acted = 0
    for run in range(runs):
        proc = Proc([*worker, str(seed * 1000 + run)], tmp_path / "worker.err")
        try:
            _wait_line(proc.lines, "STARTED", 60)
            for _ in range(rng.randint(0, 3)):
                assert http.post("/qtc/advance", json={"minutes": 1}).status_code == 200
            # let it run a random while (it never stops by itself), then kill it mid-flight
            with pytest.raises(subprocess.TimeoutExpired):
                proc.proc.wait(timeout=rng.uniform(0.05, 1.5))
            kills += 1
        finally:
            proc.kill()
        while not proc.lines.empty():
            acted += proc.lines.get().startswith("ACT")
    # the exchange goes on a little while nobody watches, then a last start settles everything
    assert http.post("/qtc/advance", json={"minutes": 2}).status_code == 200
    final = Proc([*worker, str(seed), "--final"], tmp_path / "worker.err")
    try:
        _wait_line(final.lines, "FINAL", 90)
    finally:
        final.kill()

    executions = http.get("/qtc/executions").json()["executions"]
    assert acted > 50 and len(executions) > 20, (acted, len(executions))
    ledgers = _ledger(data_dir)
    ours = [e for e in executions if e["client_order_id"].split("-")[0] in TEAMS]
    exchange_totals = _totals(
        [(e["client_order_id"], Decimal(e["qty"]), Decimal(e["price"])) for e in ours]
    )
    ledger_totals = _totals(
        [
            (r.order_id, r.quantity, r.execution_price)
            for records in ledgers.values()
            for r in records
        ]
    )
    assert ledger_totals.keys() == exchange_totals.keys()
    for order_id, (qty, notional) in exchange_totals.items():
        assert ledger_totals[order_id][0] == qty, order_id  # no fill lost, none doubled
        assert abs(ledger_totals[order_id][1] - notional) <= NOTIONAL_TOLERANCE, order_id
    for records in ledgers.values():  # cumulative quantities only ever grow per order
        last: dict[str, Decimal] = {}
        for r in records:
            assert r.filled_qty > last.get(r.order_id, Decimal(0))
            last[r.order_id] = r.filled_qty

    state = json.loads((data_dir / "final.json").read_text())
    open_at_exchange = {
        o["client_order_id"]: o["status"]
        for o in http.get(
            "/v2/orders",
            params={"status": "open", "limit": 500},
            headers={"APCA-API-KEY-ID": "qtc-local-key", "APCA-API-SECRET-KEY": "qtc-local-secret"},
        ).json()
    }
    for team in TEAMS:
        replay = Portfolio.replay(INITIAL, (r.to_fill() for r in ledgers[team]))
        assert (
            state[team]["cash"] == str(replay.cash.normalize())
            or Decimal(state[team]["cash"]) == replay.cash
        )
        assert {s: [Decimal(q), Decimal(c)] for s, (q, c) in state[team]["positions"].items()} == {
            s: [p.quantity, p.avg_cost] for s, p in replay.positions.items()
        }
        assert state[team]["fill_count"] == len(ledgers[team])
        assert all(status != "pending_new" for status in state[team]["open"].values())
        for order_id in state[team]["open"]:
            assert order_id in open_at_exchange, order_id
    tracked_open = {i for team in TEAMS for i in state[team]["open"]}
    assert {i for i in open_at_exchange if i.split("-")[0] in TEAMS} == tracked_open
    http.close()
    print(
        f"kill storm (alpaca-py): {kills} kills survived, {len(ours)} executions checked, "
        "0 lost, 0 doubled"
    )
    return kills
