"""Builds the running system from settings: the only place that picks concrete adapters."""

from __future__ import annotations

import gc
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from prometheus_client import CollectorRegistry

from qtc.alpaca.budget import RequestBudget
from qtc.alpaca.config import AlpacaConfig
from qtc.api.app import create_app
from qtc.api.keys import KEYS_FILE, KeyStore
from qtc.api.server import serve
from qtc.brokers.base import Broker
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import Clock, PacedClock, RealClock
from qtc.connection_limits import bind_socket
from qtc.domain.times import MINUTE
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.journal import JournaledEngine
from qtc.exchange.engine.venue import SimulatedVenue
from qtc.market.base import MarketFeed
from qtc.market.calendar import MarketCalendar
from qtc.market.replay import ReplayMarket
from qtc.market.simulated import DEFAULT_UNIVERSE, SimulatedMarket
from qtc.metrics.collector import RunState, RunStateCollector, StreamState
from qtc.metrics.health import Readiness
from qtc.metrics.run_metrics import RunMetrics
from qtc.orchestrator import Orchestrator
from qtc.progress import (
    DataDirLock,
    StartupError,
    journal_last_minute,
    minute_after,
    read_progress,
    recorded_in_ledgers,
    save_progress,
)
from qtc.settings import Settings
from qtc.store.files import FileStore
from qtc.store.observed import ObservedFileStore
from qtc.strategies.results import StrategyError
from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec
from qtc.tracking.tracker import OrderTracker
from qtc.views.status import status_view

log = logging.getLogger("qtc.run")
DEMO_LEAD_MINUTES = 150
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=366)

__all__ = ["Components", "StartupError", "build_components"]
T = TypeVar("T")


@dataclass
class Components:
    """Everything `qtc run` started, and how to stop it."""

    settings: Settings
    orchestrator: Orchestrator
    tracker: OrderTracker
    broker: Broker
    broker_name: str
    clock: Clock
    calendar: MarketCalendar
    strategies: StrategyPool
    first_minute: datetime
    recorder: RunMetrics
    readiness: Readiness
    api_server: uvicorn.Server | None = None
    api_socket: socket.socket | None = None
    limiter: RequestBudget | None = None
    journal: JournaledEngine | None = None
    lock: DataDirLock | None = None
    demo_keys: dict[str, str] = field(default_factory=dict)

    @property
    def last_minute(self) -> datetime | None:
        """The run's last minute: after `duration_minutes`, or `minutes_into_next_session`
        into the session after the first minute's, whichever comes first; None: no end."""
        ends = []
        settings = self.settings
        if settings.duration_minutes:
            ends.append(self.first_minute + MINUTE * (settings.duration_minutes - 1))
        if settings.minutes_into_next_session:
            next_open = self.calendar.next_open(self.first_minute)
            ends.append(next_open + MINUTE * (settings.minutes_into_next_session - 1))
        return min(ends) if ends else None

    def background(self) -> dict[str, Coroutine[Any, Any, Any]]:
        """The loops that run beside the minute: stream, reconcile, cleanup, API."""
        loops: dict[str, Coroutine[Any, Any, Any]] = {
            "stream": self.tracker.run_stream(),
            "reconcile": self.tracker.run_reconcile_loop(),
            "cleanup": self.tracker.run_cleanup_loop(),
        }
        if self.api_server is not None:
            sockets = [self.api_socket] if self.api_socket is not None else None
            loops["api"] = self.api_server.serve(sockets=sockets)
        return loops

    def save_progress(self, next_minute: datetime) -> None:
        """Durably remember the next minute to run, so a restart never runs one twice."""
        save_progress(self.settings.data_dir, next_minute)

    def status_fields(self, minute: datetime) -> dict[str, Any]:
        board = self.orchestrator.leaderboard()
        leader = f"{board[0]['team_id']} {board[0]['return_pct']}%" if board else "-"
        return {
            "time": minute.strftime("%Y-%m-%d %H:%M UTC"),
            "orders": sum(self.orchestrator.totals.orders.values()),
            "fills": sum(int(row["fills"]) for row in board),
            "open": sum(int(row["open_orders"]) for row in board),
            "leader": leader,
        }

    def status(self) -> dict[str, Any]:
        """The public /api/v1/status document."""
        now = self.clock.now()
        teams = list(self.orchestrator.teams)
        skipped = self.orchestrator.skipped
        return status_view(
            running=not self.orchestrator.stopping,
            market_open=stock_market_open(self.calendar, now),
            last_minute=self.orchestrator.totals.last_minute,
            now=now,
            broker=self.broker_name,
            teams=len(teams),
            open_orders=sum(len(self.tracker.open_orders(t)) for t in teams),
            skipped_count=skipped.count,
            skipped_first=skipped.first,
            skipped_last=skipped.last,
            degraded=self.tracker.degraded,
            isolation=self.strategies.isolation,
        )

    async def close(self) -> None:
        await self.strategies.close()
        self.tracker.flush()
        await self.broker.close()
        if self.limiter is not None:
            self.limiter.close()
        if self.journal is not None:
            self.journal.close()
        if self.lock is not None:
            self.lock.release()


def stock_market_open(calendar: MarketCalendar, moment: datetime) -> bool:
    """Whether the stock market trades in the minute of `moment`."""
    return calendar.is_open("SPY", moment.replace(second=0, microsecond=0))


def alpaca_config(settings: Settings) -> AlpacaConfig:
    """The Alpaca account the settings describe (the adapters never see the settings)."""
    key, secret = settings.alpaca_api_key, settings.alpaca_api_secret
    return AlpacaConfig(
        api_key=key.get_secret_value() if key else None,
        api_secret=secret.get_secret_value() if secret else None,
        paper=settings.alpaca_paper,
        base_url=settings.alpaca_base_url,
        stream_url=settings.alpaca_stream_url,
        data_url=settings.alpaca_data_url,
        rate_limit_per_minute=settings.alpaca_rate_limit_per_minute,
    )


def _report_isolation(
    pool: StrategyPool, settings: Settings, load_errors: dict[str, StrategyError | None]
) -> None:
    """Log which kernel layers hold the strategies; a missing one loudly, or fatally if required."""
    layers = pool.isolation
    if layers is None:
        if any(e is None for e in load_errors.values()):
            return
        log.warning("Strategy isolation: unknown (no strategy worker started)")
        return
    in_force = ", ".join(f"{k} ({v})" for k, v in layers["in_force"].items()) or "none"
    log.info("Strategy isolation in force: %s", in_force)
    missing = layers["missing"]
    if missing:
        shown = "; ".join(f"{k}: {v}" for k, v in missing.items())
        log.warning("STRATEGY ISOLATION MISSING: %s (--require-isolation refuses this)", shown)
        if settings.require_isolation:
            raise StartupError(f"isolation required but missing: {shown}")
    if not settings.strategy_python_checks:
        log.warning("Python-level strategy checks are OFF: only the kernel boundary holds")


def _bind_api(settings: Settings) -> socket.socket:
    try:
        return bind_socket(settings.api_host, settings.api_port)
    except OSError as e:
        raise StartupError(
            f"cannot serve the API on {settings.api_host}:{settings.api_port} ({e.strerror}); "
            "choose another --api-port or run with --no-api"
        ) from e


def _default_start(calendar: MarketCalendar, now: datetime) -> datetime:
    """A little before the close of the last complete session, so a newcomer sees the close."""
    session = calendar.last_session_before(now)
    if session is None:
        return now.replace(second=0, microsecond=0)
    return session.close - timedelta(minutes=DEMO_LEAD_MINUTES)


async def build_components(
    settings: Settings,
    specs: list[TeamSpec],
    *,
    start: datetime | None,
    market: str,
    bars: list[Path],
    demo_keys: bool = False,
    fresh_data: bool = False,
) -> Components:
    """Build, load and reconcile everything; nothing runs until the caller starts the loops.

    Owns the data directory first (`fresh_data` then empties it). Raises StartupError, with
    nothing started, when the run cannot start: the port is taken, the data directory is in
    use or unusable, a file in it cannot be read, or `start` is before recorded progress."""
    lock = DataDirLock.acquire(settings.data_dir)
    api_socket: socket.socket | None = None
    try:
        if fresh_data:
            lock.clear_folder()
        api_socket = _bind_api(settings) if settings.api_enabled else None
        parts = await _build(settings, specs, start, market, bars, demo_keys)
    except BaseException:
        if api_socket is not None:
            api_socket.close()
        lock.release()
        raise
    parts.lock = lock
    parts.api_socket = api_socket if parts.api_server is not None else None
    return parts


async def _build(
    settings: Settings,
    specs: list[TeamSpec],
    start: datetime | None,
    market: str,
    bars: list[Path],
    demo_keys: bool,
) -> Components:
    calendar = MarketCalendar()
    live = market == "alpaca" and settings.use_alpaca
    journal_path = settings.data_dir / "exchange" / "journal.jsonl"
    # decided before any file is opened, so that a refused start writes nothing
    exchanged = None if settings.use_alpaca else journal_last_minute(journal_path)
    plan = _plan_start(settings, calendar, start=start, live=live, exchanged=exchanged)
    keys = (
        _readable(settings.data_dir / KEYS_FILE, lambda: KeyStore(settings.data_dir / KEYS_FILE))
        if settings.api_enabled
        else None
    )
    # a registry per run: a test's runs, or a restart in one process, never share series
    registry = CollectorRegistry(auto_describe=False) if settings.metrics_enabled else None
    recorder = RunMetrics(registry, [spec.team_id for spec in specs])
    # one budget of REST requests for the whole Alpaca account: orders and market data share it
    limiter = RequestBudget(
        limit=settings.alpaca_rate_limit_per_minute,
        now=time.time,  # wall clock: the journal's times must mean the same after a restart
        journal=settings.data_dir / "alpaca_requests.log" if settings.use_alpaca else None,
        on_answer=recorder.broker_answered,
    )
    feed = build_feed(settings, market, bars, calendar, limiter)
    engine = None if settings.use_alpaca else _open_journal(settings, specs, feed, journal_path)
    if engine is not None and engine.last_minute not in (None, exchanged):
        # the journal's own word, once it keeps one, over our reading of its lines
        plan = _plan_start(settings, calendar, start=start, live=live, exchanged=engine.last_minute)
    first = plan.first
    clock, speed = build_clock(settings, live, first)
    venue = build_venue(settings, engine, feed, clock, calendar, limiter, first)
    tracker = build_tracker(settings, specs, venue.broker, clock, speed, recorder)
    await _loaded(settings.data_dir / "team", tracker.load)
    strategies = await build_strategies(settings, specs, tracker, recorder)

    # the books are loaded: keep the collector from walking them again and again
    gc.collect()
    gc.freeze()
    orchestrator = Orchestrator(
        teams=specs,
        tracker=tracker,
        strategies=strategies,
        feed=feed,
        calendar=calendar,
        clock=clock,
        venue=venue.simulated,
        history_minutes=settings.history_minutes,
        skip_stale=live,
        fast_forward_closed=settings.fast_forward_closed and not live,
    )
    if plan.skipped is not None:
        orchestrator.skip_minutes(*plan.skipped)
    parts = Components(
        settings=settings,
        orchestrator=orchestrator,
        tracker=tracker,
        broker=venue.broker,
        broker_name=venue.name,
        clock=clock,
        calendar=calendar,
        strategies=strategies,
        first_minute=first,
        recorder=recorder,
        readiness=build_monitoring(settings, recorder, tracker, venue, calendar, clock, speed),
        journal=engine,
        limiter=limiter,
    )
    if keys is not None:
        build_api(parts, keys, specs if demo_keys else [])
    return parts


@dataclass(frozen=True, slots=True)
class Venue:
    """The broker the tracker trades through, its update stream's state, and the simulated
    venue when QTC runs one."""

    broker: Broker
    name: str
    stream: StreamState
    simulated: SimulatedVenue | None = None


def build_feed(
    settings: Settings,
    market: str,
    bars: list[Path],
    calendar: MarketCalendar,
    limiter: RequestBudget,
) -> MarketFeed:
    """Replayed bars, Alpaca's data, or the simulated market."""
    if bars:
        return ReplayMarket.from_files(bars)
    if market == "alpaca":
        from qtc.alpaca.feed import AlpacaMarketFeed

        universe = settings.symbols or DEFAULT_UNIVERSE
        return AlpacaMarketFeed.from_config(alpaca_config(settings), universe, limiter)
    return SimulatedMarket(settings.seed, calendar, settings.symbols)


def _open_journal(
    settings: Settings, specs: list[TeamSpec], feed: MarketFeed, path: Path
) -> JournaledEngine:
    return _readable(
        path,
        lambda: JournaledEngine.open(
            path,
            seed=settings.seed,
            symbols=feed.universe,
            # one paper account shared by every team, funded with all their capital
            buying_power=sum((spec.capital for spec in specs), Decimal(0)),
            participation=settings.participation,
            half_spread_bps=settings.half_spread_bps,
        ),
    )


def build_clock(settings: Settings, live: bool, first: datetime) -> tuple[Clock, float]:
    """The wall clock for a live run, else a paced simulated one; and its speed-up."""
    if live:
        return RealClock(), 1.0
    clock = PacedClock(first, 60_000.0 / settings.speed)
    return clock, clock.speed


def build_venue(
    settings: Settings,
    engine: JournaledEngine | None,
    feed: MarketFeed,
    clock: Clock,
    calendar: MarketCalendar,
    limiter: RequestBudget,
    first: datetime,
) -> Venue:
    """Alpaca when credentials are set, else the journaled simulated exchange."""
    if engine is None:
        from qtc.alpaca.broker import AlpacaBroker

        alpaca = AlpacaBroker.from_config(alpaca_config(settings), limiter)
        return Venue(alpaca, "alpaca", alpaca)
    broker = SimulatedBroker(engine, clock)
    driver = ExchangeDriver(engine, feed, clock, calendar, start=first)
    return Venue(broker, "simulated", broker, SimulatedVenue(driver, broker))


def build_tracker(
    settings: Settings,
    specs: list[TeamSpec],
    broker: Broker,
    clock: Clock,
    speed: float,
    recorder: RunMetrics | None = None,
) -> OrderTracker:
    """The order tracker over the team files; intervals are real seconds, so an accelerated
    clock counts them faster. The `recorder` hears of reconciles and, with metrics on, of
    ledger appends."""
    store = (
        ObservedFileStore(settings.data_dir, recorder.trade_appended)
        if recorder is not None and recorder.registry is not None
        else FileStore(settings.data_dir)
    )
    tracker = OrderTracker(
        store=store,
        broker=broker,
        clock=clock,
        teams={spec.team_id: spec.capital for spec in specs},
        reconcile_interval=settings.reconcile_interval,
        retention_days=settings.retention_days,
        cleanup_interval=settings.cleanup_interval,
        market_margin=settings.market_order_margin,
        speed=speed,
    )
    if recorder is not None:
        tracker.reconcile_listeners.append(
            lambda result, seconds: recorder.reconciled(result.complete, seconds)
        )
    return tracker


async def build_strategies(
    settings: Settings,
    specs: list[TeamSpec],
    tracker: OrderTracker,
    recorder: RunMetrics | None = None,
) -> StrategyPool:
    """Start every team's worker; a team that cannot load is in its errors.jsonl, not fatal.
    With metrics on, the `recorder` hears of every call."""
    strategies = StrategyPool(
        specs,
        timeout=settings.strategy_timeout,
        memory_mb=settings.strategy_memory_mb,
        scratch_root=settings.data_dir / "scratch",
        hidden=[settings.data_dir],
        scratch_mb=settings.strategy_scratch_mb,
        python_checks=settings.strategy_python_checks,
        require_isolation=settings.require_isolation,
        observer=recorder if recorder is not None and recorder.registry is not None else None,
    )
    load_errors = await strategies.start()
    try:
        _report_isolation(strategies, settings, load_errors)
    except StartupError:
        await strategies.close()
        raise
    for team_id, error in load_errors.items():
        if error is not None:
            log.error("Team %s strategy failed to load: %s", team_id, error.message)
            tracker.record_error(team_id, error.phase, error.message, error.signal)
    return strategies


def build_monitoring(
    settings: Settings,
    recorder: RunMetrics,
    tracker: OrderTracker,
    venue: Venue,
    calendar: MarketCalendar,
    clock: Clock,
    speed: float,
) -> Readiness:
    """The /readyz checks; with metrics on, the values /metrics reads at scrape time too."""
    if recorder.registry is not None:
        state = RunState(
            orders_by_status=tracker.orders_by_status,
            open_orders=tracker.open_order_count,
            sse_subscribers=tracker.subscriber_count,
            stream=venue.stream,
            data_dir=settings.data_dir,
        )
        recorder.registry.register(RunStateCollector(state, recorder))
    return Readiness(
        recorder.facts,
        venue.stream,
        market_open=lambda: stock_market_open(calendar, clock.now()),
        minute_seconds=60.0 / speed,  # real seconds per minute of the clock
        reconcile_seconds=settings.reconcile_interval,
        wall=recorder.wall,
    )


def build_api(parts: Components, keys: KeyStore, demo_teams: list[TeamSpec]) -> None:
    """The team API over the live tracker (keys issued for `demo_teams`, shown once)."""
    parts.demo_keys = {spec.team_id: keys.issue(spec.team_id) for spec in demo_teams}
    orchestrator = parts.orchestrator
    app = create_app(
        parts.tracker,
        keys,
        status=parts.status,
        leaderboard=orchestrator.leaderboard,
        rate_limit_per_minute=parts.settings.api_rate_limit_per_minute,
        prices=lambda: orchestrator.prices,
        readiness=parts.readiness,
        metrics=parts.recorder.registry,
    )
    parts.api_server = serve(app, parts.settings.api_host, parts.settings.api_port)


def _readable(path: Path, load: Callable[[], T]) -> T:
    """`load()`, with a file it cannot read turned into one clear StartupError."""
    try:
        return load()
    except Exception as e:
        raise _unreadable(path, e) from e


async def _loaded(path: Path, load: Callable[[], Awaitable[object]]) -> None:
    """`await load()`, with a file it cannot read turned into one clear StartupError."""
    try:
        await load()
    except Exception as e:
        raise _unreadable(path, e) from e


def _unreadable(path: Path, error: Exception) -> Exception:
    if isinstance(error, StartupError) or not isinstance(error, (*_CORRUPT, ValueError, OSError)):
        return error
    where = "" if str(path) in str(error) else f"{path}: "
    return StartupError(f"cannot read {where}{error}")


def _corrupt_errors() -> tuple[type[Exception], ...]:
    """The store's and the journal's unreadable-file errors (as they land)."""
    from qtc.exchange.engine import journal as journal_module
    from qtc.store import jsonl

    found = (getattr(jsonl, "CorruptFile", None), getattr(journal_module, "JournalCorrupt", None))
    return tuple(e for e in found if isinstance(e, type) and issubclass(e, Exception))


_CORRUPT = _corrupt_errors()


@dataclass(frozen=True)
class StartPlan:
    """The first minute to run, and the passed minutes a live run skips (first, last)."""

    first: datetime
    skipped: tuple[datetime, datetime] | None = None


def _plan_start(
    settings: Settings,
    calendar: MarketCalendar,
    *,
    start: datetime | None,
    live: bool,
    exchanged: datetime | None,
) -> StartPlan:
    """Where this run starts: never a minute already run, and, live, never a past one."""
    data_dir = settings.data_dir
    recorded, problem = read_progress(data_dir)
    after_exchange = exchanged + MINUTE if exchanged is not None else None
    progress = _later(recorded, after_exchange)
    if recorded is None:
        ledgers = recorded_in_ledgers(data_dir)
        evidence = _later(after_exchange, minute_after(ledgers) if ledgers else None)
        why = problem or f"{data_dir / 'run_state.json'} is missing"
        if evidence is not None:
            log.warning(
                "%s; progress recovered from the exchange journal and the ledgers: "
                "the next minute is %s",
                why,
                evidence.isoformat(),
            )
            progress = evidence
        elif problem is not None:
            log.warning("%s; nothing else records progress: starting afresh", problem)
    elif after_exchange is not None and after_exchange > recorded:
        log.warning(
            "Minute %s was interrupted after the exchange matched it: it is not run again",
            exchanged.isoformat() if exchanged else "?",
        )
    now = datetime.now(UTC)
    if start is not None:
        if live:
            raise StartupError(
                "--start is for simulated runs: a live run always starts at the present minute"
            )
        if not EARLIEST_START <= start <= now + LATEST_START_AHEAD:
            raise StartupError(
                f"--start {start.isoformat()} is out of range "
                f"({EARLIEST_START.year} to a year from now)"
            )
        if progress is not None and start < progress:
            raise StartupError(
                f"--start {start.isoformat()} is before the recorded progress of {data_dir} "
                f"(next minute {progress.isoformat()}): a restart never runs a minute twice; "
                "start at or after it, or use a new --data-dir"
            )
        return StartPlan(start)
    if live:
        present = now.replace(second=0, microsecond=0)
        if progress is not None and progress < present:
            return StartPlan(present, (progress, present - MINUTE))
        return StartPlan(present)
    if progress is not None:
        return StartPlan(progress)
    return StartPlan(_default_start(calendar, now))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)
