"""End to end: the team files of a `qtc run` (Alpaca mode, alpaca-py against `qtc exchange`) sit
on a tiny tmpfs that fills up mid-session. The run keeps going degraded, says so loudly, books
nothing it could not write, and once space returns every fill lands in its ledger exactly once.

The tmpfs is mounted in a private user and mount namespace (`unshare -rm`), so no privilege is
needed; the test frees space through `/proc/<pid>/root`, which shows the namespace's mounts."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from tests.support.files import jsonl_lines

from .conftest import (
    STRATEGIES,
    Processes,
    next_minute,
    per_order,
    start_exchange,
    wait_until,
)

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SYMBOLS = ["BTC/USD", "ETH/USD"]
TEAMS = {"alpha": 0, "bravo": 1, "charlie": 2}
TRADE_MINUTES = 30
END_MINUTE = 34
TMPFS_KB = 768
FREE_KB = 96  # left free at the start: a few minutes of trading, then the disk is full
MINUTE_TIMEOUT = 30.0

# mount the tmpfs over <data>/team, fill it, run qtc, then keep a copy of the team files
# (the tmpfs ends with the namespace)
WRAPPER = """
set -u
data="$0"
mount -t tmpfs -o size={size}k tmpfs "$data/team" || exit 97
dd if=/dev/zero of="$data/team/filler" bs=1k count={filler} 2>/dev/null
"$@"
rc=$?
mkdir -p "$data/kept"
cp -a "$data/team/." "$data/kept/"
rm -f "$data/kept/filler"
exit $rc
"""


def _moved_on(run: subprocess.Popen[bytes], data: Path, progress: object) -> bool:
    """The run ended, or its progress has passed `progress`."""
    return run.poll() is not None or next_minute(data, START) != progress


@pytest.mark.slow
def test_a_full_disk_degrades_the_run_and_every_fill_lands_once_space_returns(
    tmp_path: Path, processes: Processes
) -> None:
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for the full-disk test")
    exchange = start_exchange(processes, tmp_path, seed=7, start=START, symbols=SYMBOLS)
    data = tmp_path / "data"
    (data / "team").mkdir(parents=True)
    registry = tmp_path / "teams.yaml"
    registry.write_text(
        yaml.safe_dump(
            [
                {
                    "id": team_id,
                    "path": str(STRATEGIES / "churn"),
                    "strategy": "strategy:Strategy",
                    "capital": "1000000",
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
    log = tmp_path / "run.log"
    qtc = [
        sys.executable,
        "-m",
        "qtc",
        "run",
        "--registry",
        str(registry),
        "--market",
        "simulated",
        "--symbols",
        *SYMBOLS,
        "--seed",
        "7",
        "--speed",
        "400",
        "--duration",
        str(END_MINUTE),
        "--start",
        START.isoformat(),
        "--data-dir",
        str(data),
        "--no-api",
        "--log-file",
        str(log),
        "--reconcile-interval",
        "2",
    ]
    wrapper = WRAPPER.format(size=TMPFS_KB, filler=TMPFS_KB - FREE_KB)
    env = exchange.run_env()
    run = processes.start(
        ["unshare", "-rm", "sh", "-c", wrapper, str(data), *qtc], tmp_path / "run.out", env
    )
    filler = Path(f"/proc/{run.pid}/root") / str(data).lstrip("/") / "team" / "filler"
    wait_until(filler.exists, 30, "the tmpfs to be mounted and filled")

    def log_text() -> str:
        return log.read_text() if log.exists() else ""

    freed = False
    for _ in range(20 * END_MINUTE):
        assert run.poll() is None, f"qtc run exited early:\n{(tmp_path / 'run.out').read_text()}"
        if not freed and "DEGRADED" in log_text() and exchange.minute() >= 12:
            os.remove(filler)  # space returns
            freed = True
        minute = exchange.minute()
        if minute >= END_MINUTE:
            break
        progress = next_minute(data, START)
        if progress is not None and minute < progress + 1:
            exchange.advance(1)
            continue
        wait_until(
            functools.partial(_moved_on, run, data, progress),
            MINUTE_TIMEOUT,
            f"qtc run to finish minute {progress}",
        )
    assert freed, "the disk never filled up: the run never said DEGRADED"
    assert run.wait(120) == 0, (tmp_path / "run.out").read_text()

    text = log_text()
    assert "DEGRADED" in text and "Recovered" in text
    kept = data / "kept"
    executions = exchange.executions()
    for team_id in TEAMS:
        ledger = jsonl_lines(kept / team_id / "trades.jsonl")  # every line whole JSON
        ids = [row["execution_id"] for row in ledger]
        assert len(ids) == len(set(ids)), f"{team_id}: an execution booked twice"
        theirs = [e for e in executions if str(e["client_order_id"]).startswith(team_id + "-")]
        assert theirs, f"{team_id} never traded"
        assert per_order(ledger, "quantity", "execution_price") == per_order(
            theirs, "qty", "price"
        ), f"{team_id}: ledger differs from the exchange's executions"
        for path in (kept / team_id).rglob("*.jsonl"):
            jsonl_lines(path)  # no torn bytes left in any file
    booked = sum(len(jsonl_lines(kept / t / "trades.jsonl")) for t in TEAMS)
    assert booked == len(executions) > 0
    assert all(Decimal(str(e["qty"])) > 0 for e in executions)
