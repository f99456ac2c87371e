"""`qtc run`: wire settings, market, broker, tracker, strategies and API, then run the minutes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from qtc.console import StatusLine, make_console, print_summary, setup_logging, startup_error
from qtc.domain.market import is_crypto
from qtc.domain.times import MINUTE
from qtc.logsetup import add_log_arguments
from qtc.market.simulated import DEFAULT_UNIVERSE
from qtc.orchestrator import MinuteReport, Orchestrator
from qtc.service_notify import notifier_for_this_process
from qtc.settings import Settings
from qtc.strategies.pools import check_workers
from qtc.strategies.teams import TeamSpec, load_registry, parse_team_arg
from qtc.wiring import (
    EARLIEST_START,
    LATEST_START_AHEAD,
    Components,
    StartupError,
    build_components,
)

log = logging.getLogger("qtc.run")
DEMO_NEXT_SESSION_MINUTES = 20
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_TEAMS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("buyhold", "buy_and_hold", {}),
    ("meanrev", "mean_reversion", {}),
    # orders larger than a minute of the thin demo market takes: partial fills, then cancels
    ("stale", "stale_canceler", {"order_value": 15000}),
)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `qtc run`."""
    parser.add_argument(
        "--teams",
        action="append",
        default=[],
        metavar="ID;PATH;MODULE:CLASS;CAPITAL",
        help="a team (repeatable): 'admin;./strategies/admin;strategy:Strategy;100000'",
    )
    parser.add_argument("--registry", type=Path, help="YAML file listing teams (with params)")
    parser.add_argument("--duration", type=int, help="minutes to run, then stop cleanly")
    parser.add_argument(
        "--speed", type=float, help="simulated clock speed-up over real time (default 400)"
    )
    parser.add_argument("--seed", type=int, help="seed of the simulated market and exchange")
    parser.add_argument(
        "--start", help="simulated start time, ISO-8601 UTC (default: before a recent close)"
    )
    parser.add_argument("--data-dir", type=Path, help="where team files live (default ./data)")
    parser.add_argument("--api-host", help="API address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, help="API port (default 8000)")
    parser.add_argument("--no-api", action="store_true", help="do not serve the team API")
    parser.add_argument("--reconcile-interval", type=float, help="seconds between reconciles")
    parser.add_argument("--log-file", type=Path, help="default logs/qtc-orchestrator.log")
    add_log_arguments(parser)
    parser.add_argument(
        "--market",
        choices=("simulated", "alpaca"),
        help="market data source (default: alpaca with credentials, else simulated)",
    )
    parser.add_argument(
        "--bars", action="append", type=Path, default=[], help="replay bars from CSV/Parquet"
    )
    parser.add_argument(
        "--symbols", nargs="+", help="the traded universe (default: the simulated market's ten)"
    )
    parser.add_argument("--strategy-timeout", type=float, help="seconds per strategy call")
    parser.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to start unless every kernel isolation layer is in force",
    )
    parser.add_argument(
        "--auto-rollback",
        action="store_true",
        help="a strategy version failing N minutes in a row is replaced by the previous one",
    )
    parser.add_argument(
        "--demo", action="store_true", help="the example strategies on a fresh demo data dir"
    )
    parser.add_argument(
        "--workers",
        help="where strategies run: local (default), ray (a local Ray), ray:auto or "
        "ray:HOST:PORT (the cluster of this node), ray://HOST:PORT (Ray Client)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Flags override the environment; the environment overrides defaults."""
    overrides: dict[str, Any] = {}
    for flag, name in (
        ("data_dir", "data_dir"),
        ("log_file", "log_file"),
        ("log_level", "log_level"),
        ("log_format", "log_format"),
        ("reconcile_interval", "reconcile_interval"),
        ("api_host", "api_host"),
        ("api_port", "api_port"),
        ("seed", "seed"),
        ("speed", "speed"),
        ("duration", "duration_minutes"),
        ("strategy_timeout", "strategy_timeout"),
        ("symbols", "symbols"),
        ("workers", "workers"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[name] = value
    if args.no_api:
        overrides["api_enabled"] = False
    if getattr(args, "quiet", False):
        overrides["quiet"] = True
    if getattr(args, "require_isolation", False):
        overrides["require_isolation"] = True
    if getattr(args, "auto_rollback", False):
        overrides["auto_rollback"] = True
    if args.demo:
        overrides.setdefault("data_dir", Path("demo-data"))
        # the close (day orders expire), the night skipped, the next open (gtc orders carry on)
        overrides.setdefault("minutes_into_next_session", DEMO_NEXT_SESSION_MINUTES)
        overrides.setdefault("fast_forward_closed", True)
        # equities only: crypto trades all night, and the night is what the demo skips
        overrides.setdefault("symbols", [s for s in DEFAULT_UNIVERSE if not is_crypto(s)])
        # a thin market, so that a newcomer sees orders fill partially over several minutes
        overrides.setdefault("participation", Decimal("0.0002"))
    return Settings(**overrides)


def team_specs(args: argparse.Namespace) -> list[TeamSpec]:
    """The teams from --teams, --registry or --demo; a team id given twice is refused."""
    specs = [parse_team_arg(arg) for arg in args.teams]
    if args.registry is not None:
        specs.extend(load_registry(args.registry))
    if args.demo and not specs:
        specs = [
            TeamSpec(team_id, EXAMPLES / folder, "strategy", "Strategy", Decimal(100000), params)
            for team_id, folder, params in DEMO_TEAMS
        ]
    seen: set[str] = set()
    for spec in specs:
        if spec.team_id in seen:
            raise ValueError(f"team id {spec.team_id!r} is given twice: each team needs its own")
        seen.add(spec.team_id)
    return specs


def run_command(args: argparse.Namespace) -> int:
    """Entry point of `qtc run`."""
    console = make_console()
    try:
        settings = settings_from_args(args)
        check_workers(settings.workers)
    except ValueError as e:
        return startup_error(console, str(e))
    try:
        logs = setup_logging(
            settings.log_file,
            console,
            settings.log_level,
            quiet=settings.quiet,
            log_format=settings.log_format,
        )
    except OSError as e:
        return startup_error(console, f"cannot write the log file {settings.log_file} ({e})")
    try:
        try:
            specs = team_specs(args)
            start = _parse_start(args.start)
        except (ValueError, OSError) as e:
            return startup_error(console, str(e))
        if not specs:
            return startup_error(console, "no teams: give --teams, --registry or --demo")
        market = args.market or ("alpaca" if settings.use_alpaca else "simulated")
        return asyncio.run(
            _run(
                settings,
                specs,
                start=start,
                market=market,
                bars=args.bars,
                demo=args.demo,
                console=console,
            )
        )
    finally:
        logs.stop()  # every queued line reaches the file before the process ends


def _parse_start(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"--start {raw!r} is not an ISO-8601 time ({e})") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if not EARLIEST_START <= parsed <= datetime.now(UTC) + LATEST_START_AHEAD:
        raise ValueError(
            f"--start {raw!r} is out of range ({EARLIEST_START.year} to a year from now)"
        )
    return parsed


async def _run(
    settings: Settings,
    specs: list[TeamSpec],
    *,
    start: datetime | None,
    market: str,
    bars: list[Path],
    demo: bool,
    console: Console,
) -> int:
    notifier = notifier_for_this_process()
    notifier.status("starting: loading the ledgers and reconciling with the broker")
    try:
        parts = await build_components(
            settings,
            specs,
            start=start,
            market=market,
            bars=bars,
            demo_keys=demo,
            fresh_data=demo,
        )
    except StartupError as e:
        return startup_error(console, str(e))
    orchestrator = parts.orchestrator
    stop_requested = _install_signal_handlers(orchestrator)
    api_url = (
        f"http://{settings.api_host}:{settings.api_port}" if parts.api_server is not None else None
    )
    started = (
        f"QTC run: {len(specs)} teams, broker={parts.broker_name}, market={market}, "
        f"data={settings.data_dir}, API {api_url or 'off'}"
    )
    # on the console even when it is quiet: what runs, and where
    console.print(escape(started), soft_wrap=True)
    log.info("%s", started, extra={"terminal": False})
    for team_id, key in parts.demo_keys.items():
        console.print(f"API key for team [bold]{team_id}[/bold]: {key}")

    status = StatusLine(console, api_url)
    # the watchdog pings from this event loop, so a hung loop stops them
    watchdog = asyncio.create_task(notifier.run_watchdog(), name="watchdog")
    notifier.ready(f"running {len(specs)} teams from {parts.first_minute:%Y-%m-%d %H:%M} UTC")

    def on_minute(report: MinuteReport) -> None:
        fields = parts.status_fields(report.minute)
        status.update(fields)
        notifier.status(
            f"last minute {fields['time']}: {fields['orders']} orders, {fields['fills']} fills, "
            f"{fields['open']} open, leader {fields['leader']}"
        )

    with status:
        exit_code = await run_session(parts, on_minute=on_minute, on_stopping=notifier.stopping)
    watchdog.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog
    print_summary(console, orchestrator.leaderboard())
    if stop_requested():
        log.info("Stopped by signal; open orders stay tracked on disk for the next start")
    totals = orchestrator.totals
    log.info(
        "QTC run finished: %d minutes, %d orders, last minute %s (exit code %d)",
        totals.minutes,
        sum(totals.orders.values()),
        totals.last_minute.isoformat() if totals.last_minute else "none",
        exit_code,
    )
    return exit_code


async def run_session(
    parts: Components,
    on_minute: Callable[[MinuteReport], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
) -> int:
    """Run the background loops and the minutes until the duration ends or `stop()`;
    then shut down cleanly (`on_stopping` is told first). Returns the exit code."""
    orchestrator = parts.orchestrator
    background: list[asyncio.Task[Any]] = [
        asyncio.create_task(coro, name=name) for name, coro in parts.background().items()
    ]
    last = parts.last_minute

    orchestrator.listen(_Progress(parts, on_minute))
    parts.recorder.run_started()
    exit_code = 0
    try:
        await orchestrator.run(parts.first_minute, last)
    except Exception:
        log.exception("The run stopped on an unexpected error")
        exit_code = 1
    finally:
        if on_stopping is not None:
            on_stopping()
        await _shutdown(parts, background)
    return exit_code


@dataclass(frozen=True, slots=True)
class _Progress:
    """Saves the run's progress: before a minute's first order leaves, and once it has run
    (then the metrics hear of it)."""

    parts: Components
    on_minute: Callable[[MinuteReport], None] | None

    def before_send(self, minute: datetime) -> None:
        self.parts.save_progress(minute + MINUTE)

    def minute_done(self, report: MinuteReport) -> None:
        self.parts.save_progress(report.minute + MINUTE)
        self.parts.recorder.minute_done(report.bars_to_last_order_s)
        if self.on_minute is not None:
            self.on_minute(report)


def _install_signal_handlers(orchestrator: Orchestrator) -> Callable[[], bool]:
    """SIGINT/SIGTERM: no new signals after the current minute, then a clean shutdown."""
    requested = {"stop": False}
    loop = asyncio.get_running_loop()

    def handler() -> None:
        requested["stop"] = True
        log.info("Stop requested: finishing the current minute")
        orchestrator.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, handler)
    return lambda: requested["stop"]


async def _shutdown(parts: Components, background: list[asyncio.Task[Any]]) -> None:
    """Flush every file, stop the API and the background loops, close strategies and broker."""
    parts.tracker.flush()
    if parts.api_server is not None:
        parts.api_server.should_exit = True
    for task in background:
        if task.get_name() != "api":
            task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await parts.close()
