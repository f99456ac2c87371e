"""Sandbox overhead: one `run_minute` over 10 and 100 teams of a trivial strategy, and memory.

The strategy returns one signal and computes nothing, so the time is the pool's own cost:
pickling the views, the socket round trip to every worker, JSON replies. Memory is read from
/proc: RSS counts the numpy/pandas pages every worker shares with the fork server; PSS splits
shared pages between their users; USS is what each worker alone costs.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec

TRIVIAL = """
class Strategy:
    def __init__(self, **params):
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        symbol = min(current_prices)
        return {"symbol": symbol, "action": "buy", "quantity": 1, "price": current_prices[symbol],
                "order_type": "limit", "time_in_force": "day"}
"""
SYMBOLS = [f"SYM{i}" for i in range(10)]
HISTORY = 120
MINUTES = 10
WARMUP = 2


def market() -> tuple[dict[str, Any], dict[str, float]]:
    """Ten symbols with 120 minutes of history, as the orchestrator shares them."""
    bars = {
        s: {
            "timestamp": [f"2026-01-02T15:{m % 60:02d}:00+00:00" for m in range(HISTORY)],
            **{k: [100.0 + m * 0.01 for m in range(HISTORY)] for k in ("open", "high", "low")},
            "close": [100.0 + m * 0.01 for m in range(HISTORY)],
            "volume": [1000.0] * HISTORY,
        }
        for s in SYMBOLS
    }
    return bars, {s: 101.0 for s in SYMBOLS}


def memory_kb(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (private) of one process, in kB."""
    values = {"rss": 0, "pss": 0, "uss": 0}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            key, _, rest = line.partition(":")
            if key == "Rss":
                values["rss"] = int(rest.split()[0])
            elif key == "Pss":
                values["pss"] = int(rest.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                values["uss"] += int(rest.split()[0])
    return values


async def measure(teams: int, root: Path) -> dict[str, float]:
    folder = root / "trivial"
    folder.mkdir(exist_ok=True)
    (folder / "strategy.py").write_text(TRIVIAL)
    specs = [
        TeamSpec(f"t{i:04d}", folder, "strategy", "Strategy", Decimal(100000)) for i in range(teams)
    ]
    pool = StrategyPool(specs, timeout=10.0, scratch_root=root / f"scratch{teams}")
    try:
        started = time.perf_counter()
        errors = await pool.start()
        startup = time.perf_counter() - started
        failed = [tid for tid, e in errors.items() if e is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} teams failed to load: {errors[failed[0]]}")
        bars, prices = market()
        durations = []
        for _ in range(MINUTES):
            views = {
                s.team_id: {
                    "team": {
                        "id": s.team_id,
                        "cash": 100000.0,
                        "positions": {},
                        "params": {},
                        "open_orders": [],
                    },
                    "bars": bars,
                    "current_prices": prices,
                }
                for s in specs
            }
            began = time.perf_counter()
            results = await pool.run_minute(views)
            durations.append(time.perf_counter() - began)
            assert all(r.error is None and r.signals for r in results.values())
        memory = [memory_kb(pid) for pid in pool.worker_pids().values()]
    finally:
        await pool.close()
    measured = durations[WARMUP:]
    return {
        "teams": teams,
        "startup_s": startup,
        "p50_ms": statistics.median(measured) * 1000,
        "max_ms": max(measured) * 1000,
        "rss_mb": statistics.mean(m["rss"] for m in memory) / 1024,
        "pss_mb": statistics.mean(m["pss"] for m in memory) / 1024,
        "uss_mb": statistics.mean(m["uss"] for m in memory) / 1024,
    }


def main(sizes: Sequence[int] = (10, 100)) -> None:
    """Print the sandbox's per-minute overhead and per-worker memory for each pool size."""
    print(
        f"trivial strategy, {len(SYMBOLS)} symbols x {HISTORY} bars per view, "
        f"median and max of {MINUTES - WARMUP} minutes after {WARMUP} warm-up minutes"
    )
    header = (
        f"{'teams':>6} {'start s':>8} {'minute p50 ms':>14} {'max ms':>8} "
        f"{'RSS MB/worker':>14} {'PSS MB':>7} {'USS MB':>7}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="qtc-sandbox-bench-") as tmp:
        for teams in sizes:
            row = asyncio.run(measure(teams, Path(tmp)))
            print(
                f"{row['teams']:>6} {row['startup_s']:>8.2f} {row['p50_ms']:>14.1f} "
                f"{row['max_ms']:>8.1f} {row['rss_mb']:>14.1f} {row['pss_mb']:>7.1f} "
                f"{row['uss_mb']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
