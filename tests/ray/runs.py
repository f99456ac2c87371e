"""In-process runs for the Ray tests: the same `qtc run` as a user's, over a tmp data dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtc.orchestrator import MinuteReport
from qtc.runner import run_session
from qtc.settings import Settings
from qtc.strategies.teams import TeamSpec
from qtc.wiring import Components, build_components

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MIDDAY = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)  # a regular session, midday in New York


async def run(
    data: Path,
    specs: list[TeamSpec],
    workers: str,
    minutes: int,
    *,
    speed: float = 60_000_000.0,
    on_minute: Callable[[Components, MinuteReport], None] | None = None,
    strategy_timeout: float = 10.0,
) -> Components:
    """One in-process `qtc run` over `data` from a fixed session minute, seed 7."""
    settings = Settings(
        data_dir=data,
        log_file=data / "run.log",
        api_enabled=False,
        speed=speed,
        seed=7,
        duration_minutes=minutes,
        workers=workers,
        strategy_timeout=strategy_timeout,
    )
    parts = await build_components(settings, specs, start=MIDDAY, market="simulated", bars=[])
    await run_session(parts, on_minute=None if on_minute is None else lambda r: on_minute(parts, r))
    return parts


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
