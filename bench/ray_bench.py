"""Ray: what a minute costs more with the strategies on a Ray cluster than in the local pool.

The same 200 teams of a trivial strategy run a dozen minutes in the local pool, then on a local
Ray cluster this benchmark starts (a head and one worker node on this machine, ended by pid
when done). With a strategy that computes nothing, the difference is Ray's own cost: putting
the minute's bars in the object store, one call per host, the results back. `python -m bench
ray [TEAMS [WORKER_NODES]]`; needs the ray extra (`make setup-ray`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.orchestrator import MinuteReport
from qtc.runner import run_session
from qtc.settings import Settings
from qtc.strategies.teams import TeamSpec
from qtc.wiring import build_components

STRATEGY = Path(__file__).parent / "strategies" / "bench_limit"
MINUTES = 12
WARMUP = 2


async def measure(teams: int, data_dir: Path, workers: str) -> dict[str, float]:
    settings = Settings(
        data_dir=data_dir,
        log_file=data_dir / "bench.log",
        api_enabled=False,
        speed=60_000_000.0,  # the clock never makes a minute wait: we measure work only
        duration_minutes=MINUTES,
        strategy_timeout=10.0,
        strategy_memory_mb=1024,
        workers=workers,
    )
    specs = [
        TeamSpec(f"t{i:04d}", STRATEGY, "strategy", "Strategy", Decimal(1_000_000))
        for i in range(teams)
    ]
    started = time.perf_counter()
    parts = await build_components(settings, specs, start=None, market="simulated", bars=[])
    startup = time.perf_counter() - started
    reports: list[MinuteReport] = []
    await run_session(parts, on_minute=reports.append)
    measured = reports[WARMUP:]
    return {
        "startup_s": startup,
        "minute_p50_ms": statistics.median(r.bars_to_last_order_s for r in measured) * 1000,
        "strategies_p50_ms": statistics.median(r.strategies_s for r in measured) * 1000,
        "strategies_max_ms": max(r.strategies_s for r in measured) * 1000,
        "rest_p50_ms": statistics.median(r.overhead_s for r in measured) * 1000,
    }


def _row(name: str, nodes: int, row: dict[str, Any]) -> None:
    print(
        f"{name:>7} {nodes:>6} {row['startup_s']:>10.1f} {row['minute_p50_ms']:>14.1f} "
        f"{row['strategies_p50_ms']:>18.1f} {row['strategies_max_ms']:>18.1f} "
        f"{row['rest_p50_ms']:>12.1f}",
        flush=True,
    )


def main() -> None:
    from tests.support.ray_cluster import RayCluster, free_port

    args = [int(a) for a in sys.argv[2:]]
    teams = args[0] if args else 200
    worker_nodes = args[1] if len(args) > 1 else 1
    print(
        f"{'pool':>7} {'nodes':>6} {'startup s':>10} {'minute p50 ms':>14} "
        f"{'strategies p50 ms':>18} {'strategies max ms':>18} {'rest p50 ms':>12}"
        f"   ({teams} teams)"
    )
    with tempfile.TemporaryDirectory(prefix="qtc-ray-bench-") as tmp:
        local = asyncio.run(measure(teams, Path(tmp) / "local", "local"))
    _row("local", 1, local)
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="qtc-ray-bench-")), free_port())
    saved = {k: os.environ.get(k) for k in cluster.auth_env}
    os.environ.update(cluster.auth_env)  # this process is the cluster's driver
    try:
        cluster.start(worker_nodes)
        nodes = len(cluster.alive_nodes())
        on_ray = asyncio.run(measure(teams, cluster.root / "data", f"ray:{cluster.address}"))
    finally:
        cluster.close()
        shutil.rmtree(cluster.root, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _row("ray", nodes, on_ray)
    overhead = on_ray["minute_p50_ms"] - local["minute_p50_ms"]
    print(
        f"Ray minute overhead over the local pool at {teams} teams, {nodes} nodes: "
        f"{overhead:+.1f} ms p50 ({on_ray['minute_p50_ms'] / local['minute_p50_ms']:.2f}x); "
        "strategies = the pool's run_minute; rest = the same code, sharing the cores with "
        "the cluster's own processes"
    )


if __name__ == "__main__":
    main()
