"""End to end: a strategy that places every order type and class (examples/every_order_type) run by
`qtc run` on the Alpaca adapter (real alpaca-py) against `qtc exchange`: every type reaches
the exchange, legs and the replacement are the team's orders, and the team's ledger holds
exactly the exchange's executions, each once, at the exchange's price."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import yaml

from .conftest import (
    Processes,
    ledger,
    next_minute,
    read_lines,
    start_exchange,
    wait_until,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday, 10:00 in New York
SEED = 7
TEAM = "types"
MINUTES = 24
LEAD = 1  # the exchange runs at most this many minutes ahead of the run's progress


def _start_run(processes: Processes, folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    registry = folder / "teams.yaml"
    registry.write_text(
        yaml.safe_dump(
            [
                {
                    "id": TEAM,
                    "path": str(EXAMPLES / "every_order_type"),
                    "strategy": "strategy:Strategy",
                    "capital": "1000000",
                }
            ]
        )
    )
    command = [
        sys.executable, "-m", "qtc", "run",
        "--registry", str(registry),
        "--market", "simulated",
        "--symbols", "AAPL",
        "--seed", str(SEED),
        "--speed", "400",
        "--duration", str(MINUTES),
        "--start", START.isoformat(),
        "--data-dir", str(folder / "data"),
        "--no-api",
        "--log-file", str(folder / "run.log"),
        "--reconcile-interval", "2",
    ]  # fmt: skip
    return processes.start(command, folder / "run.out", env)


def _moved_on(run: subprocess.Popen[bytes], data: Path, progress: int | None) -> bool:
    return run.poll() is not None or next_minute(data, START) != progress


@pytest.mark.slow
def test_every_order_type_from_a_strategy_through_alpaca_py_lands_once(
    tmp_path: Path, processes: Processes
) -> None:
    exchange = start_exchange(processes, tmp_path, seed=SEED, start=START, symbols=["AAPL"])
    run = _start_run(processes, tmp_path, exchange.run_env())
    data = tmp_path / "data"
    for _ in range(20 * MINUTES):  # bounded: each turn advances or waits for the run
        if run.poll() is not None:
            break
        progress = next_minute(data, START)
        if progress is not None and exchange.minute() < progress + LEAD:
            exchange.advance(1)
            continue
        wait_until(
            partial(_moved_on, run, data, progress), 30, f"qtc run to finish minute {progress}"
        )
    assert run.wait(60) == 0, (tmp_path / "run.out").read_text()[-3000:]

    team_dir = data / "team" / TEAM
    errors = read_lines(team_dir / "errors.jsonl") if (team_dir / "errors.jsonl").exists() else []
    assert errors == []
    orders: dict[str, dict[str, object]] = {}  # each order as last written: ended or open
    for row in read_lines(team_dir / "orders.jsonl") + read_lines(
        team_dir / "pending_orders.jsonl"
    ):
        orders[str(row["order_id"])] = row
    assert {"market", "limit", "stop", "stop_limit", "trailing_stop"} <= {
        str(o["order_type"]) for o in orders.values()
    }
    assert {"bracket", "oco", "oto"} <= {str(o.get("order_class")) for o in orders.values()}
    assert [o for o in orders.values() if o["status"] == "rejected"] == []
    legs = [o for o in orders.values() if o.get("parent_id")]
    assert len(legs) >= 4 and all(str(o["parent_id"]) in orders for o in legs)
    replaced = [o for o in orders.values() if o["status"] == "replaced"]
    assert len(replaced) == 1 and str(replaced[0]["replaced_by"]) in orders
    assert any(o.get("notional") is not None for o in orders.values())

    # one team trades on the account: the exchange's executions are exactly its ledger
    executions = exchange.executions()
    booked = ledger(data, TEAM)
    assert executions, "nothing filled"
    assert Counter(
        (Decimal(e["qty"]), Decimal(e["price"]), e["side"]) for e in executions
    ) == Counter((Decimal(t["quantity"]), Decimal(t["execution_price"]), t["side"]) for t in booked)
    by_broker_id = {str(o.get("broker_order_id")): o for o in orders.values()}
    assert {e["order_id"] for e in executions} <= set(by_broker_id)
    # and what is still open at the exchange is exactly what the team's file holds open
    still_open = {o["id"] for o in exchange.alpaca_get("/v2/orders?status=open&limit=500")}
    pending = read_lines(team_dir / "pending_orders.jsonl")
    assert still_open == {str(o["broker_order_id"]) for o in pending}
