"""End to end: `qtc run` with the Alpaca adapter (real alpaca-py) against `qtc exchange`, through
stream drops, duplicated and reordered events, 429 and 5xx bursts, and a SIGKILL while orders
are filling; at the end every team's ledger equals the exchange's executions for that team."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from qtc.domain.portfolio import Portfolio

from .conftest import (
    STRATEGIES,
    Exchange,
    Processes,
    last_snapshot,
    ledger,
    ledger_fills,
    next_minute,
    per_order,
    read_lines,
    start_exchange,
    wait_until,
)

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SEED = 7
SYMBOLS = ["BTC/USD", "ETH/USD"]
TEAMS = {"alpha": 0, "bravo": 1, "charlie": 2}  # team -> the strategy's schedule variant
CAPITAL = Decimal(1_000_000)
BUYING_POWER = Decimal(100_000_000)
TRADE_MINUTES = 36  # the strategies cancel everything and stop trading from this minute
END_MINUTE = 40  # the exchange's clock stops here; the second run processes minutes up to it
KILL_AT = 18  # from this minute, SIGKILL the first run as soon as an order is part filled
DEAD_MINUTES = 4  # minutes the exchange trades while no orchestrator runs
LEAD = 1  # the exchange runs at most this many minutes ahead of the run's progress
# exchange minute -> fault switches (POST /qtc/faults) for the first run, each applied once
FIRST_RUN_FAULTS: dict[int, dict[str, Any]] = {
    3: {"duplicate_events": 8, "reorder_events": 6, "reorder_hold_ms": 300},
    5: {"drop_stream": True},
    8: {"http_429": 3},
    11: {"http_5xx": 2, "status_5xx": 503},
    13: {"duplicate_events": 8, "reorder_events": 5, "reorder_hold_ms": 300},
}
# the second run's faults, in minutes after the exchange minute it was started at
SECOND_RUN_FAULTS: dict[int, dict[str, Any]] = {
    1: {"duplicate_events": 6, "reorder_events": 4, "reorder_hold_ms": 300},
    2: {"http_429": 3},
    4: {"drop_stream": True},
    6: {"http_5xx": 3, "status_5xx": 500},
    8: {"duplicate_events": 6, "reorder_events": 4, "reorder_hold_ms": 300},
}
OUTAGE_MINUTES = 2  # minutes traded right after a drop, before alpaca-py can reconnect (>= 0.5 s)
MINUTE_TIMEOUT = 30.0  # seconds a run may take for one minute (429 backoffs included)


class Session:
    """The exchange, the data dir, and the `qtc run` processes over it."""

    def __init__(self, tmp_path: Path, processes: Processes, exchange: Exchange) -> None:
        self.folder = tmp_path
        self.processes = processes
        self.exchange = exchange
        self.data = tmp_path / "data"
        self.registry = tmp_path / "teams.yaml"
        self.registry.write_text(
            yaml.safe_dump(
                [
                    {
                        "id": team_id,
                        "path": str(STRATEGIES / "churn"),
                        "strategy": "strategy:Strategy",
                        "capital": str(CAPITAL),
                        "params": {
                            "start": START.isoformat(),
                            "variant": variant,
                            "trade_minutes": TRADE_MINUTES,
                        },
                    }
                    for team_id, variant in TEAMS.items()
                ]
            )
        )
        self.env = exchange.run_env()
        self.faults = dict(FIRST_RUN_FAULTS)
        self.applied: set[int] = set()

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start_run(self, name: str, duration: int, *, fresh: bool) -> subprocess.Popen[bytes]:
        """`qtc run` over the data dir; without `fresh` it resumes where the last run stopped."""
        command = [
            sys.executable,
            "-m",
            "qtc",
            "run",
            "--registry",
            str(self.registry),
            "--market",
            "simulated",
            "--symbols",
            *SYMBOLS,
            "--seed",
            str(SEED),
            "--speed",
            "400",
            "--duration",
            str(duration),
            "--data-dir",
            str(self.data),
            "--no-api",
            "--log-file",
            str(self.log(name)),
            "--reconcile-interval",
            "2",
            "--strategy-timeout",
            "5",
        ]
        if fresh:
            command += ["--start", START.isoformat()]
        return self.processes.start(command, self.folder / f"{name}.out", self.env)

    def step(self, run: subprocess.Popen[bytes], name: str, limit: int) -> bool:
        """Inject the faults due now, then complete one exchange minute once the run has caught
        up (or wait for its progress). False once the exchange's clock has reached `limit`.

        A dropped stream is followed at once by minutes of fills the run cannot hear about;
        then the exchange holds still until the run has reconnected and reconciled, so that
        only that reconcile can have booked them."""
        minute = self.exchange.minute()
        for due in sorted(m for m in self.faults if m <= minute and m not in self.applied):
            self.exchange.faults(**self.faults[due])
            self.applied.add(due)
            if self.faults[due].get("drop_stream"):
                # what the stream cannot tell now, only a reconcile can: a cancel by the
                # broker itself and whatever the next minutes fill
                self.exchange.cancel_an_open_order()
                self.exchange.advance(OUTAGE_MINUTES)

                def reconnected() -> bool:
                    assert run.poll() is None, f"qtc run exited early ({run.returncode})"
                    return repaired(self.log(name))

                wait_until(reconnected, MINUTE_TIMEOUT, f"{name} to reconnect and reconcile")
                return True
        if minute >= limit:
            return False
        progress = next_minute(self.data, START)
        if progress is not None and minute < progress + LEAD:
            self.exchange.advance(1)
            return True

        def moved() -> bool:
            assert run.poll() is None, f"qtc run exited early ({run.returncode})"
            return next_minute(self.data, START) != progress

        wait_until(moved, MINUTE_TIMEOUT, f"qtc run to finish minute {progress}")
        return True

    def part_filled_open_order(self) -> bool:
        for team_id in TEAMS:
            for order in read_lines(self.data / "team" / team_id / "pending_orders.jsonl"):
                if 0 < Decimal(order["filled_qty"]) < Decimal(order["quantity"]):
                    return True
        return False


@pytest.mark.slow
def test_ledgers_equal_exchange_executions_through_faults_and_a_kill(
    tmp_path: Path, processes: Processes
) -> None:
    exchange = start_exchange(processes, tmp_path, seed=SEED, start=START, symbols=SYMBOLS)
    session = Session(tmp_path, processes, exchange)

    # 1. the first run trades through duplicates, reordering, a 429 burst, a dropped stream and
    #    a 5xx burst, and is killed while an order is part filled
    first = session.start_run("run1", duration=200, fresh=True)
    for _ in range(10 * END_MINUTE):
        minute = exchange.minute()
        if minute >= KILL_AT and (session.part_filled_open_order() or minute >= KILL_AT + 8):
            break
        session.step(first, "run1", END_MINUTE)
    filling_at_kill = session.part_filled_open_order()
    first.kill()  # SIGKILL: no shutdown, no flush
    first.wait(10)
    killed_at = exchange.now()

    # 2. the exchange goes on filling while no orchestrator runs
    exchange.advance(DEAD_MINUTES)
    restarted_at = exchange.now()
    restart_minute = exchange.minute()
    session.faults.update({restart_minute + k: v for k, v in SECOND_RUN_FAULTS.items()})

    # 3. a second run resumes over the same data dir and trades through more faults, then winds
    #    down (the strategies cancel everything from TRADE_MINUTES)
    resume = next_minute(session.data, START)
    assert resume is not None and resume < END_MINUTE
    second = session.start_run("run2", duration=END_MINUTE - resume, fresh=False)
    for _ in range(10 * END_MINUTE):
        if not session.step(second, "run2", END_MINUTE):
            break
    wait_until(lambda: second.poll() is not None, 60, "the second run to end")
    assert second.returncode == 0, (tmp_path / "run2.out").read_text()[-3000:]

    # 4. the exchange stands still; a last short run's startup reconcile fetches final states
    final = session.start_run("final", duration=1, fresh=False)
    wait_until(lambda: final.poll() is not None, 60, "the final run to end")
    assert final.returncode == 0, (tmp_path / "final.out").read_text()[-3000:]

    stats = exchange.stats()  # before this test's own REST reads below
    check_ledgers(session.data, exchange)
    check_portfolios(session.data, exchange)
    assert stats["max_requests_per_minute"] <= 200, stats
    assert filling_at_kill, "the first run was killed with no order part filled"
    check_faults_were_exercised(session, exchange, stats, killed_at, restarted_at)


def check_ledgers(data: Path, exchange: Exchange) -> None:
    """Per team and order: ledger quantity == executed quantity, notional within 1e-6; a line
    with a real execution id is that execution; no execution id twice."""
    by_id = {e["execution_id"]: e for e in exchange.executions()}
    for team_id in TEAMS:
        rows = ledger(data, team_id)
        executions = exchange.executions(f"{team_id}-")
        assert len(rows) >= 5 and len(executions) >= 5, (team_id, len(rows), len(executions))
        ids = [row["execution_id"] for row in rows]
        assert len(ids) == len(set(ids)), f"{team_id}: an execution id is booked twice"

        booked = per_order(rows, "quantity", "execution_price")
        executed = per_order(executions, "qty", "price")
        assert sorted(booked) == sorted(executed), team_id
        for order_id, (qty, notional) in executed.items():
            assert booked[order_id][0] == qty, (team_id, order_id, booked[order_id], qty)
            assert abs(booked[order_id][1] - notional) <= Decimal("1e-6"), (order_id, notional)

        for row in rows:
            if "@" in row["execution_id"]:
                continue  # learned by polling: "{order_id}@{cumulative qty}"
            execution = by_id[row["execution_id"]]
            assert execution["client_order_id"] == row["order_id"]
            assert Decimal(execution["qty"]) == Decimal(row["quantity"])
            assert Decimal(execution["price"]) == Decimal(row["execution_price"])
            assert execution["side"] == row["side"] and execution["symbol"] == row["symbol"]
        # every order ended: the wind-down canceled what did not fill
        assert not read_lines(data / "team" / team_id / "pending_orders.jsonl"), team_id


def nonzero(positions: dict[str, Decimal]) -> dict[str, Decimal]:
    return {s: q for s, q in positions.items() if q != 0}


def check_portfolios(data: Path, exchange: Exchange) -> None:
    """The last snapshot is the replay of the ledger; the teams together are the account."""
    cash_moved = Decimal(0)
    held: dict[str, Decimal] = {}
    lines = 0
    for team_id in TEAMS:
        replayed = Portfolio.replay(CAPITAL, ledger_fills(data, team_id))
        snapshot = last_snapshot(data, team_id)
        assert Decimal(snapshot["cash"]) == replayed.cash, team_id
        assert snapshot["fill_count"] == len(ledger(data, team_id))
        assert nonzero(
            {s: Decimal(p["quantity"]) for s, p in snapshot["positions"].items()}
        ) == nonzero({s: p.quantity for s, p in replayed.positions.items()}), team_id
        cash_moved += replayed.cash - CAPITAL
        lines += len(ledger(data, team_id))
        for symbol, position in replayed.positions.items():
            held[symbol.replace("/", "")] = held.get(symbol.replace("/", ""), 0) + position.quantity
    account = exchange.alpaca_get("/v2/account")
    # a fill learned by polling is booked at a price rounded to 1e-9: cents' dust per line
    assert abs(Decimal(account["cash"]) - (BUYING_POWER + cash_moved)) <= lines * Decimal("1e-6")
    positions = {
        p["symbol"].replace("/", ""): Decimal(p["qty"])
        for p in exchange.alpaca_get("/v2/positions")
    }
    assert nonzero(positions) == nonzero(held)


def check_faults_were_exercised(
    session: Session,
    exchange: Exchange,
    stats: dict[str, Any],
    killed_at: datetime,
    restarted_at: datetime,
) -> None:
    assert session.applied == set(session.faults)
    assert stats["stream"]["drops"] >= 2
    left = exchange.faults()
    # every injected error and every duplicated/reordered event was really served
    assert left["http_429"] == left["http_5xx"] == 0, left
    assert left["duplicate_events"] == left["reorder_events"] == 0, left
    logs = {name: session.log(name).read_text() for name in ("run1", "run2", "final")}
    # a reconnect after each dropped stream, whose reconcile found what the stream missed
    for name in ("run1", "run2"):
        assert reconcile_after_reconnect(logs[name]) >= 1, f"{name}: no repair after the drop"
    assert "retry 1 in" in logs["run1"] + logs["run2"]  # the 429 bursts were backed off

    executions = exchange.executions()
    times: dict[str, set[str]] = {}
    for e in executions:
        times.setdefault(e["client_order_id"], set()).add(e["timestamp"])
    assert max(len(t) for t in times.values()) >= 3, "no order filled over several minutes"
    stamps = [_time(e["timestamp"]) for e in executions]
    assert any(killed_at < t <= restarted_at for t in stamps), "nothing filled while killed"
    polled = sum("@" in row["execution_id"] for t in TEAMS for row in ledger(session.data, t))
    assert polled >= 1, "no fill was learned by polling"


def repaired(log: Path) -> bool:
    """Whether the run has reconnected after the dropped stream and reconciled since."""
    text = log.read_text() if log.exists() else ""
    _, found, after = text.partition("trade_updates stream connected (2)")
    return bool(found) and "Reconciliation complete" in after


def reconcile_after_reconnect(log: str) -> int:
    """How many orders the reconciles from the first lost stream up to the first after its
    reconnect updated (a periodic one may come before the reconnect and repair it first)."""
    _, lost, after_drop = log.partition("trade_updates stream lost")
    assert lost, "the stream was never lost"
    during, found, after = after_drop.partition("trade_updates stream connected (2)")
    assert found, "the stream never reconnected"
    match = re.search(r"Reconciliation complete: (\d+) orders updated", after)
    assert match is not None, "no reconcile after the reconnect"
    repaired = re.findall(r"Reconciliation complete: (\d+) orders updated", during)
    return int(match.group(1)) + sum(int(n) for n in repaired)


def _time(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
