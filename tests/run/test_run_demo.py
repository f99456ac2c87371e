"""`make run`'s demo, run as `make run` runs it: quiet, and every step of an order's life is
in its files (a day order expired at the close, a partial fill then a cancel, a gtc order
carried overnight into the next session, where the demo soon ends)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from qtc.domain.times import MINUTE
from qtc.market.calendar import MarketCalendar
from qtc.runner import DEMO_NEXT_SESSION_MINUTES

from .conftest import clean_env, next_minute

MAX_CONSOLE_LINES = 40  # start lines, keys, a status line every 30 minutes, the summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _all(data: Path, name: str) -> list[dict[str, Any]]:
    return [row for folder in sorted((data / "team").iterdir()) for row in _rows(folder / name)]


def _at(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


@pytest.mark.slow
def test_the_demo_is_quiet_and_shows_the_whole_lifecycle(tmp_path: Path) -> None:
    # `make run` is `qtc run --demo --quiet`; a free port, so that it runs beside other tests
    command = [sys.executable, "-m", "qtc", "run", "--demo", "--quiet"]
    result = subprocess.run(
        [*command, "--api-port", str(_free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    output = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0, "\n".join(output[-30:])

    assert len(output) <= MAX_CONSOLE_LINES, "\n".join(output)
    assert not [line for line in output if " INFO " in line], "\n".join(output)
    assert output[0].startswith("QTC run: 3 teams, broker=simulated"), output[0]
    assert sum(line.startswith("API key for team ") for line in output) == 3
    assert any("QTC run summary" in line for line in output)

    data = tmp_path / "demo-data"
    log = (tmp_path / "logs" / "qtc-orchestrator.log").read_text()
    assert "Starting background order reconciliation loop (30s interval)...\n" in log
    assert re.search(r"Reconciling \d+ pending orders with the simulated exchange\.\.\.\n", log)
    closed_line = re.search(r"Session closed at (\S+): expired (\d+) day orders", log)
    assert closed_line and int(closed_line.group(2)) >= 1, "no day order expired at the close"
    close = _at(closed_line.group(1))
    next_open = MarketCalendar().next_open(close)

    history = _all(data, "orders.jsonl")
    still_open = _all(data, "pending_orders.jsonl")
    trades = _all(data, "trades.jsonl")
    fill_times: dict[str, list[datetime]] = {}
    for trade in trades:
        fill_times.setdefault(trade["order_id"], []).append(_at(trade["timestamp"]))

    expired = [o for o in history if o["status"] == "expired" and o["time_in_force"] == "day"]
    assert expired and all(_at(o["updated_at"]) == close for o in expired), expired

    partly_then_canceled = [
        o
        for o in history
        if o["status"] == "canceled" and 0 < float(o["filled_qty"]) < float(o["quantity"])
    ]
    assert partly_then_canceled, "no order was partially filled and then canceled"
    order = partly_then_canceled[0]
    assert all(t <= _at(order["updated_at"]) for t in fill_times[order["order_id"]])

    overnight = [
        o
        for o in history + still_open
        if o["time_in_force"] == "gtc" and _at(o["created_at"]) < close
    ]
    alive = [o for o in overnight if o in still_open]
    filled_next_day = [
        o
        for o in overnight
        if o["status"] == "filled" and max(fill_times.get(o["order_id"], [close])) >= next_open
    ]
    assert alive or filled_next_day, "no gtc order was carried over the close"
    assert any(t >= next_open for times in fill_times.values() for t in times), "no next session"

    # it ends a few minutes into the next session, not idling through the night
    assert next_minute(data) == next_open + MINUTE * DEMO_NEXT_SESSION_MINUTES
