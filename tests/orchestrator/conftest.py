"""Builders for whole competitions run in-process on the simulated market and exchange."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.files import jsonl_lines as lines  # shared by this folder's tests

from qtc.settings import Settings
from qtc.strategies.teams import TeamSpec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOSTILE = ROOT / "tests" / "strategies" / "hostile"
OWN = Path(__file__).parent / "strategies"
# A regular session day; 17:00 UTC is 12:00 in New York, 240 minutes before the close.
MIDDAY = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)
SESSION_OPEN = datetime(2025, 11, 19, 14, 30, tzinfo=UTC)


def team(team_id: str, path: Path, capital: int = 100_000, **params: Any) -> TeamSpec:
    return TeamSpec(team_id, path, "strategy", "Strategy", Decimal(capital), params)


def fast_settings(data_dir: Path, minutes: int, **overrides: Any) -> Settings:
    """Settings for a run that never waits on the clock."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "log_file": data_dir / "qtc.log",
        "api_enabled": False,
        "speed": 60_000_000.0,
        "duration_minutes": minutes,
        "strategy_timeout": 1.0,
        "strategy_memory_mb": 256,
    }
    values.update(overrides)
    return Settings(**values)


def team_file(data_dir: Path, team_id: str, name: str) -> Path:
    return data_dir / "team" / team_id / name


def snapshot_lines(data_dir: Path, team_id: str) -> list[dict[str, Any]]:
    folder = data_dir / "team" / team_id / "portfolio"
    return [row for path in sorted(folder.glob("*.jsonl")) for row in lines(path)]


def ledger_totals(data_dir: Path, team_id: str) -> Iterator[tuple[str, Decimal, Decimal]]:
    """(order_id, qty, notional) per ledger line."""
    for row in lines(team_file(data_dir, team_id, "trades.jsonl")):
        qty = Decimal(row["quantity"])
        yield row["order_id"], qty, qty * Decimal(row["execution_price"])
