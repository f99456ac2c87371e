"""The kill storm: 200 SIGKILLs at random instants, half through the simulated exchange (`qtc run`
killed and restarted over one data dir), half through alpaca-py against `qtc exchange` (the
tracker worker of tests/tracking/test_tracker_crash.py). 0 fills lost, 0 doubled.

Seeded: `QTC_STORM_SEED` replays a storm; `QTC_STORM_KILLS` sets the kills of each half."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.files import jsonl_lines
from tests.tracking.test_tracker_crash import kill_storm, running_exchange

from qtc.domain.portfolio import Portfolio
from qtc.exchange.engine.journal import JournaledEngine
from qtc.store.records import TradeRecord

SEED = int(os.environ.get("QTC_STORM_SEED", "20261202"))
KILLS = int(os.environ.get("QTC_STORM_KILLS", "100"))
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TEAMS = {"buyhold": "buy_and_hold", "meanrev": "mean_reversion", "stale": "stale_canceler"}
CAPITAL = Decimal(100000)
START = "2026-11-20T18:20:00+00:00"  # 100 minutes before the close: fills, cancels, expiries


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[str]:
    with running_exchange(tmp_path) as url:
        yield url


def test_kill_storm_through_alpaca_py(exchange: str, tmp_path: Path) -> None:
    kills = kill_storm(exchange, tmp_path, KILLS, SEED)
    assert kills >= KILLS * 0.9


def _qtc_run(data: Path, log: Path, *, first: bool, duration: int) -> list[str]:
    args = [sys.executable, "-m", "qtc", "run", "--data-dir", str(data), "--no-api"]
    args += ["--log-file", str(log), "--speed", "3000", "--seed", "5"]
    args += ["--duration", str(duration), "--reconcile-interval", "5"]
    for team_id, folder in TEAMS.items():
        args += ["--teams", f"{team_id};{EXAMPLES / folder};strategy:Strategy;{CAPITAL}"]
    if first:
        args += ["--start", START]
    return args


def test_kill_storm_through_the_simulated_exchange(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data, log = tmp_path / "data", tmp_path / "run.log"
    env = {**os.environ, "QTC_PARTICIPATION": "0.0005", "PYTHONUNBUFFERED": "1"}
    env.pop("QTC_CRASH_AT", None)
    kills = 0
    started = False
    for _ in range(KILLS):
        out = (tmp_path / "runs.out").open("a")
        proc = subprocess.Popen(
            _qtc_run(data, log, first=not started, duration=400),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        try:
            proc.wait(timeout=rng.uniform(1.5, 4.5))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        out.close()
        started = started or (data / "run_state.json").exists()
        assert proc.returncode in (0, -signal.SIGKILL), (tmp_path / "runs.out").read_text()[-2000:]
    final = subprocess.run(
        _qtc_run(data, log, first=False, duration=120),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]

    engine = JournaledEngine.open(
        data / "exchange" / "journal.jsonl",
        seed=0,
        symbols=[],
        buying_power=Decimal(1),
        participation=Decimal(1),
        half_spread_bps=Decimal(0),
    )  # the journal's header gives the parameters it was written with
    engine.close()
    executions = engine.executions
    checked = 0
    for team_id in TEAMS:
        folder = data / "team" / team_id
        ledger = [TradeRecord.from_json(row) for row in jsonl_lines(folder / "trades.jsonl")]
        ids = [r.execution_id for r in ledger]
        assert len(ids) == len(set(ids)), f"{team_id}: an execution booked twice"
        theirs = [e for e in executions if e.client_order_id.startswith(team_id + "-")]
        want: dict[str, list[Decimal]] = {}
        for e in theirs:
            total = want.setdefault(e.client_order_id, [Decimal(0), Decimal(0)])
            total[0] += e.qty
            total[1] += e.qty * e.price
        got: dict[str, list[Decimal]] = {}
        for r in ledger:
            total = got.setdefault(r.order_id, [Decimal(0), Decimal(0)])
            total[0] += r.quantity
            total[1] += r.quantity * r.execution_price
        assert got.keys() == want.keys(), f"{team_id}: orders with fills differ"
        for order_id, (qty, notional) in want.items():
            assert got[order_id][0] == qty, f"{team_id} {order_id}: lost or doubled"
            assert abs(got[order_id][1] - notional) <= Decimal("0.00001"), order_id
        checked += len(theirs)
        replay = Portfolio.replay(CAPITAL, (r.to_fill() for r in ledger))
        snapshots = [
            row for p in sorted((folder / "portfolio").glob("*.jsonl")) for row in jsonl_lines(p)
        ]
        assert Decimal(snapshots[-1]["cash"]) == replay.cash
        open_here = {row["order_id"] for row in jsonl_lines(folder / "pending_orders.jsonl")}
        open_there = {
            o.client_order_id
            for o in engine.list("open")
            if o.client_order_id.startswith(team_id + "-")
        }
        assert open_here == open_there, f"{team_id}: open orders differ from the exchange's"
    assert kills >= KILLS * 0.9 and checked > 20, (kills, checked)
    print(
        f"kill storm (simulated exchange): {kills} kills survived, {checked} executions "
        "checked, 0 lost, 0 doubled"
    )
