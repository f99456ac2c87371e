"""A crypto competition across a UTC month end (Nov 30 -> Dec 1), and readers of its segments."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from .conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "tests" / "fault" / "strategies" / "churn"
TRADING = datetime(2025, 11, 30, 23, 52, tzinfo=UTC)  # the strategies trade 16 minutes from here
TRADE_MINUTES = 16
RUN_START = TRADING - timedelta(minutes=2)
QUIET_FROM = TRADING + timedelta(minutes=TRADE_MINUTES + 2)
TEAMS = ("alpha", "beta")
CAPITAL = "1000000"
QTC = [sys.executable, "-m", "qtc"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issue_key(data: Path, team_id: str) -> str:
    done = subprocess.run(
        [*QTC, "teams", "key", team_id, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    )
    return done.stdout.split()[0]


def registry(folder: Path) -> Path:
    path = folder / "teams.yaml"
    teams = [
        {
            "id": team_id,
            "path": str(CHURN),
            "strategy": "strategy:Strategy",
            "capital": CAPITAL,
            "params": {
                "start": TRADING.isoformat(),
                "variant": variant,
                "trade_minutes": TRADE_MINUTES,
            },
        }
        for variant, team_id in enumerate(TEAMS)
    ]
    path.write_text(yaml.safe_dump(teams))
    return path


def run_command(data: Path, *extra: str) -> list[str]:
    """`qtc run` of the month-end competition over `data`."""
    return [
        *QTC, "run", "--registry", str(registry(data.parent)),
        "--data-dir", str(data), "--log-file", str(data.parent / "qtc.log"),
        "--symbols", "BTC/USD", "ETH/USD", "--strategy-timeout", "5", *extra,
    ]  # fmt: skip


def next_minute(data: Path) -> datetime | None:
    try:
        raw: dict[str, Any] = json.loads((data / "run_state.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return datetime.fromisoformat(raw["next_minute"]).astimezone(UTC)


def segment_files(team_dir: Path, kind: str) -> list[Path]:
    """The closed segments of one kind, oldest first (YYYY-MM names sort by month)."""
    return sorted((team_dir / "segments" / kind).glob("????-??.jsonl"))


def concatenated(team_dir: Path, kind: str, live: str) -> list[bytes]:
    """Every line of the closed segments in order, then of the live file; read again until
    no rotation happened meanwhile (a rename between two reads would hide lines)."""
    while True:
        before = [(p.name, p.stat().st_size) for p in segment_files(team_dir, kind)]
        lines: list[bytes] = []
        for path in segment_files(team_dir, kind):
            lines += path.read_bytes().splitlines(keepends=True)
        live_path = team_dir / live
        if live_path.exists():
            lines += live_path.read_bytes().splitlines(keepends=True)
        after = [(p.name, p.stat().st_size) for p in segment_files(team_dir, kind)]
        if before == after:
            return [line for line in lines if line.endswith(b"\n")]  # a line being written


def records(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]
