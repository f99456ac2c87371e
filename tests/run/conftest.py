"""`qtc run` started as a user starts it, over a data directory in tmp, and what it left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.waiting import wait_until as wait_until  # shared by this folder's tests

ROOT = Path(__file__).resolve().parents[2]
BUY_AND_HOLD = ROOT / "examples" / "buy_and_hold"
# A regular session day, midday in New York.
MIDDAY = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any QTC_/ALPACA_ setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QTC_", "ALPACA_", "APCA_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def team_arg(team_id: str, path: Path = BUY_AND_HOLD) -> str:
    return f"{team_id};{path};strategy:Strategy;100000"


def run_args(data: Path, log: Path, *extra: str, teams: tuple[str, ...] = ("alpha",)) -> list[str]:
    command = [sys.executable, "-m", "qtc", "run", "--data-dir", str(data), "--log-file", str(log)]
    for team_id in teams:
        command += ["--teams", team_arg(team_id)]
    return [*command, "--speed", "6000000", "--strategy-timeout", "5", *extra]


def qtc_run(
    data: Path, log: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `qtc run` to its end (`--no-api` unless `extra` asks otherwise)."""
    flags = extra if "--api-port" in extra else ("--no-api", *extra)
    return subprocess.run(
        run_args(data, log, *flags),
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def snapshots(data: Path, team_id: str) -> list[datetime]:
    """Every portfolio snapshot's time, in file order."""
    folder = data / "team" / team_id / "portfolio"
    times = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                times.append(datetime.fromisoformat(json.loads(line)["timestamp"]))
    return times


def next_minute(data: Path) -> datetime:
    raw: dict[str, Any] = json.loads((data / "run_state.json").read_text())
    return datetime.fromisoformat(raw["next_minute"]).astimezone(UTC)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if "error:" in line]
