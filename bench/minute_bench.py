"""Overhead of one competition minute for 10, 100, 500 and 1,000 teams of a trivial strategy.

With a strategy that does almost nothing, the minute's duration is the platform's overhead:
building views, the sandbox round trip, validation, write-ahead and submission, cancels,
snapshots. Also printed: the time from the minute's bars to the last order submitted.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import cast

from qtc.orchestrator import MinuteReport
from qtc.runner import run_session
from qtc.settings import Settings
from qtc.store.files import FileStore
from qtc.strategies.teams import TeamSpec
from qtc.wiring import build_components

STRATEGY = Path(__file__).parent / "strategies" / "bench_limit"
MINUTES = 12
WARMUP = 2


async def measure(teams: int, data_dir: Path) -> dict[str, float]:
    settings = Settings(
        data_dir=data_dir,
        log_file=data_dir / "bench.log",
        api_enabled=False,
        speed=60_000_000.0,  # the clock never makes a minute wait: we measure work only
        duration_minutes=MINUTES,
        strategy_timeout=10.0,
        strategy_memory_mb=1024,
    )
    specs = [
        TeamSpec(f"t{i:04d}", STRATEGY, "strategy", "Strategy", Decimal(1_000_000))
        for i in range(teams)
    ]
    started = time.perf_counter()
    parts = await build_components(settings, specs, start=None, market="simulated", bars=[])
    startup = time.perf_counter() - started
    reports: list[MinuteReport] = []
    fsyncs: list[int] = []  # fsyncs so far (the store's and the exchange's) after each minute
    counters = [cast(FileStore, parts.tracker.store).fsyncs]
    if parts.journal is not None:
        counters.append(parts.journal.fsyncs)

    def on_minute(report: MinuteReport) -> None:
        reports.append(report)
        fsyncs.append(sum(c.count for c in counters))

    await run_session(parts, on_minute=on_minute)
    measured = reports[WARMUP:]
    per_minute = [b - a for a, b in zip(fsyncs[WARMUP:], fsyncs[WARMUP + 1 :], strict=False)]
    totals = [r.bars_to_last_order_s for r in measured]
    overheads = [r.overhead_s for r in measured]
    sandbox = [r.strategies_s for r in measured]
    return {
        "teams": teams,
        "startup_s": startup,
        "minute_p50_ms": statistics.median(totals) * 1000,
        "minute_max_ms": max(totals) * 1000,
        "sandbox_p50_ms": statistics.median(sandbox) * 1000,
        "rest_p50_ms": statistics.median(overheads) * 1000,
        "orders_per_minute": statistics.mean(r.orders + r.cancels for r in measured),
        "fsyncs_per_minute": statistics.mean(per_minute) if per_minute else float("nan"),
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[2:]] if len(sys.argv) > 2 else [10, 100, 500, 1000]
    print(
        f"{'teams':>6} {'startup s':>10} {'minute p50 ms':>14} {'minute max ms':>14} "
        f"{'sandbox p50 ms':>15} {'rest p50 ms':>12} {'orders+cancels/min':>19} "
        f"{'fsyncs/min':>11}"
    )
    for teams in sizes:
        with tempfile.TemporaryDirectory(prefix="qtc-minute-bench-") as tmp:
            row = asyncio.run(measure(teams, Path(tmp)))
        print(
            f"{row['teams']:>6} {row['startup_s']:>10.1f} {row['minute_p50_ms']:>14.1f} "
            f"{row['minute_max_ms']:>14.1f} {row['sandbox_p50_ms']:>15.1f} "
            f"{row['rest_p50_ms']:>12.1f} {row['orders_per_minute']:>19.0f} "
            f"{row['fsyncs_per_minute']:>11.1f}",
            flush=True,
        )
    print(
        "minute = bars taken -> last order submitted (with a trivial strategy this is the "
        "platform's overhead); sandbox = strategy round trip incl. IPC; fsyncs/min = the "
        "store's and the simulated exchange's fsyncs and filesystem syncs, minute end to end."
    )


if __name__ == "__main__":
    main()
