"""Cost of metrics on a 500-team minute: the minute's p50 with metrics on and off, and the ratio.

The same run as `bench.minute_bench` (trivial strategies, a clock that never waits), once with
`metrics_enabled=false` and once with it on, alternating for a few rounds so that the machine's
drift hits both alike. With metrics on, the registry is also scraped once a minute (between
minutes, as Prometheus would, on the event loop): its time is printed apart, since it delays
the loop, not the minute. The minute is fsync-bound and noisy on a shared machine, so the
recorder's own work for one minute's reports is timed too, without the noise.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from bench.minute_bench import MINUTES, STRATEGY, WARMUP
from qtc.metrics.run_metrics import RunMetrics
from qtc.orchestrator import MinuteReport
from qtc.runner import run_session
from qtc.settings import Settings
from qtc.strategies.teams import TeamSpec
from qtc.wiring import build_components

ROUNDS = 2
TARGET = 0.05


async def measure(teams: int, data_dir: Path, metrics: bool) -> tuple[list[float], list[float]]:
    """(minute durations after the warm-up, scrape durations), in seconds."""
    settings = Settings(
        data_dir=data_dir,
        log_file=data_dir / "bench.log",
        api_enabled=False,
        speed=60_000_000.0,  # the clock never makes a minute wait: we measure work only
        duration_minutes=MINUTES,
        strategy_timeout=10.0,
        strategy_memory_mb=1024,
        metrics_enabled=metrics,
    )
    specs = [
        TeamSpec(f"t{i:04d}", STRATEGY, "strategy", "Strategy", Decimal(1_000_000))
        for i in range(teams)
    ]
    parts = await build_components(settings, specs, start=None, market="simulated", bars=[])
    registry = parts.recorder.registry
    minutes: list[float] = []
    scrapes: list[float] = []

    def on_minute(report: MinuteReport) -> None:
        minutes.append(report.bars_to_last_order_s)
        if registry is not None:
            started = time.perf_counter()
            generate_latest(registry)
            scrapes.append(time.perf_counter() - started)

    await run_session(parts, on_minute=on_minute)
    return minutes[WARMUP:], scrapes


def recorder_work_ms(teams: int, metrics: bool, repeat: int = 50) -> float:
    """Real ms the recorder spends on one minute's reports: every team's call and one fill per
    team (more than the benchmark's resting orders make), a reconcile and the minute itself."""
    ids = [f"t{i:04d}" for i in range(teams)]
    recorder = RunMetrics(CollectorRegistry(auto_describe=False) if metrics else None, ids)
    started = time.perf_counter()
    for _ in range(repeat):
        for team_id in ids:
            recorder.strategy_call(team_id, 0.01, False)
            recorder.trade_appended(0.001)
        recorder.reconciled(True, 0.01)
        recorder.minute_done(1.0)
    return (time.perf_counter() - started) / repeat * 1000


def main() -> None:
    teams = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    samples: dict[bool, list[float]] = {False: [], True: []}
    scrapes: list[float] = []
    for _ in range(ROUNDS):
        for metrics in (False, True):
            with tempfile.TemporaryDirectory(prefix="qtc-metrics-bench-") as tmp:
                minutes, scraped = asyncio.run(measure(teams, Path(tmp), metrics))
            samples[metrics].extend(minutes)
            scrapes.extend(scraped)
    off = statistics.median(samples[False])
    on = statistics.median(samples[True])
    ratio = on / off - 1
    print(f"{'teams':>6} {'metrics':>8} {'minutes':>8} {'minute p50 ms':>14} {'minute max ms':>14}")
    for metrics, label in ((False, "off"), (True, "on")):
        durations = samples[metrics]
        print(
            f"{teams:>6} {label:>8} {len(durations):>8} "
            f"{statistics.median(durations) * 1000:>14.1f} {max(durations) * 1000:>14.1f}"
        )
    verdict = "within" if ratio < TARGET else "OVER"
    print(
        f"metrics cost on the minute p50: {ratio * 100:+.1f}% ({verdict} the {TARGET:.0%} "
        f"target); one scrape of /metrics p50 {statistics.median(scrapes) * 1000:.1f} ms, "
        f"max {max(scrapes) * 1000:.1f} ms ({teams} teams, {len(scrapes)} scrapes)"
    )
    work_on, work_off = recorder_work_ms(teams, True), recorder_work_ms(teams, False)
    print(
        f"recorder work per minute ({teams} calls, {teams} fills): on {work_on:.2f} ms, "
        f"off {work_off:.2f} ms = {(work_on - work_off) / (off * 1000) * 100:.2f}% of the "
        "minute p50 (the p50 ratio above is mostly the machine's noise)"
    )


if __name__ == "__main__":
    main()
