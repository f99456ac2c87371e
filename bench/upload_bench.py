"""Strategy uploads: the checks' time for a 100 KB package, and a minute with and without a swap.

The checks are everything `POST .../strategy` does before it answers: unpack, the static
check, the trial load in a confined worker (load and one call), and storing the version. The
first upload also starts the fork server (numpy and pandas preloaded), as the first trial of a
fresh `qtc strategies upload` does; a run's API reuses the running pool's. The swap is the new
version's worker start inside the minute it happens in (target: one worker start).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from qtc.orchestrator import MinuteReport
from qtc.runner import run_session
from qtc.settings import Settings
from qtc.store.strategy_versions import VersionStore
from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec
from qtc.strategies.upload_checks import read_folder
from qtc.uploads.service import StrategyDesk
from qtc.wiring import build_components

STRATEGY = Path(__file__).parent / "strategies" / "bench_limit"
PACKAGE_BYTES = 100 * 1024
UPLOADS = 5
TEAMS = 10
MINUTES = 14
SWAP_AT = 8  # the minute (from 0) the new version takes over in


def package() -> list[tuple[str, bytes]]:
    """The bench strategy plus helper modules it imports, about 100 KB of Python in all."""
    parts = sorted(read_folder(STRATEGY).items())
    modules, size, n = [], sum(len(d) for _, d in parts), 0
    while size < PACKAGE_BYTES:
        body = "".join(f"def f{i}(x):\n    return x * {i} + {n}\n\n\n" for i in range(200))
        name = f"helper{n}"
        parts.append((f"{name}.py", body.encode()))
        modules.append(name)
        size += len(body)
        n += 1
    main = dict(parts)["strategy.py"].decode()
    imports = "".join(f"import {m}  # noqa: F401\n" for m in modules)
    parts = [(p, d) for p, d in parts if p != "strategy.py"]
    parts.append(("strategy.py", (imports + main).encode()))
    return parts


async def checks(data_dir: Path) -> list[float]:
    """Seconds per upload, first (fork server start) to last."""
    pool = StrategyPool([], scratch_root=data_dir / "scratch", hidden=[data_dir])
    desk = StrategyDesk(
        VersionStore(data_dir), pool, scratch_root=data_dir / "scratch", trial_timeout=10.0
    )
    parts = package()
    seconds = []
    try:
        for _ in range(UPLOADS):
            started = time.perf_counter()
            await desk.upload("bench", parts, entry=None, uploaded_by="bench")
            seconds.append(time.perf_counter() - started)
    finally:
        await pool.close()
    return seconds


async def minutes(data_dir: Path) -> tuple[float, float]:
    """Median minute without a swap, and the minute with one (ms)."""
    settings = Settings(
        data_dir=data_dir,
        log_file=data_dir / "bench.log",
        api_enabled=False,
        speed=60_000_000.0,
        duration_minutes=MINUTES,
    )
    specs = [
        TeamSpec(f"t{i:03d}", STRATEGY, "strategy", "Strategy", Decimal(1_000_000))
        for i in range(TEAMS)
    ]
    parts = await build_components(settings, specs, start=None, market="simulated", bars=[])
    store = VersionStore(data_dir)
    now = datetime.now(UTC)
    new = store.add(
        "t000",
        read_folder(STRATEGY),
        entry="strategy:Strategy",
        params={},
        uploaded_by="b",
        now=now,
    )
    reports: list[MinuteReport] = []

    def on_minute(report: MinuteReport) -> None:
        reports.append(report)
        if len(reports) == SWAP_AT:  # picked up at the start of the next minute
            store.activate("t000", new.n, by="bench", now=now)

    await run_session(parts, on_minute=on_minute)
    times = [r.bars_to_last_order_s * 1000 for r in reports]
    plain = [t for i, t in enumerate(times) if i not in (0, 1, SWAP_AT)]
    return statistics.median(plain), times[SWAP_AT]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="qtc-upload-bench-") as tmp:
        size = sum(len(d) for _, d in package())
        seconds = asyncio.run(checks(Path(tmp) / "checks"))
        print(f"package: {len(package())} files, {size / 1024:.0f} KB")
        print(
            f"upload checks: first {seconds[0]:.2f} s (starts the fork server), then "
            f"median {statistics.median(seconds[1:]):.2f} s, max {max(seconds[1:]):.2f} s "
            "(target < 2 s)"
        )
        plain, swapped = asyncio.run(minutes(Path(tmp) / "run"))
        print(
            f"minute with {TEAMS} teams: median {plain:.1f} ms without a swap, "
            f"{swapped:.1f} ms with one team's swap (+{swapped - plain:.1f} ms: one worker start)"
        )


if __name__ == "__main__":
    main()
