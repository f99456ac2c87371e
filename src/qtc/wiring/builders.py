"""The small builders of a run: feed, clock, venue, tracker, strategies, monitoring, API."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from qtc.alpaca.budget import RequestBudget
from qtc.alpaca.config import AlpacaConfig
from qtc.api.app import create_app
from qtc.api.keys import KeyStore
from qtc.api.server import serve
from qtc.brokers.base import Broker
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import Clock, PacedClock, RealClock
from qtc.connection_limits import bind_socket
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
from qtc.progress import (
    StartupError,
)
from qtc.settings import Settings
from qtc.store.files import FileStore
from qtc.store.observed import ObservedFileStore
from qtc.strategies.pools import Pool, make_pool
from qtc.strategies.ray_pool import RayPoolError
from qtc.strategies.results import StrategyError
from qtc.strategies.teams import TeamSpec
from qtc.tracking.tracker import OrderTracker
from qtc.wiring.components import Components, stock_market_open
from qtc.wiring.start import readable

log = logging.getLogger("qtc.run")


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
    pool: Pool, settings: Settings, load_errors: dict[str, StrategyError | None]
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


def bind_api(settings: Settings) -> socket.socket:
    try:
        return bind_socket(settings.api_host, settings.api_port)
    except OSError as e:
        raise StartupError(
            f"cannot serve the API on {settings.api_host}:{settings.api_port} ({e.strerror}); "
            "choose another --api-port or run with --no-api"
        ) from e


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


def open_journal(
    settings: Settings,
    specs: list[TeamSpec],
    feed: MarketFeed,
    path: Path,
    calendar: MarketCalendar,
) -> JournaledEngine:
    return readable(
        path,
        lambda: JournaledEngine.open(
            path,
            group_commit=True,  # the simulated broker answers a burst after one sync
            seed=settings.seed,
            symbols=feed.universe,
            # one paper account shared by every team, funded with all their capital
            buying_power=sum((spec.capital for spec in specs), Decimal(0)),
            participation=settings.participation,
            half_spread_bps=settings.half_spread_bps,
            sessions=calendar,  # stock orders sent while closed wait for the open
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
) -> Pool:
    """Start every team's worker (here, or on Ray with `--workers ray...`); a team that cannot
    load is in its errors.jsonl, not fatal. With metrics on, the `recorder` hears of every call."""
    strategies = make_pool(
        settings.workers,
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
    try:
        load_errors = await strategies.start()
    except RayPoolError as e:
        raise StartupError(str(e)) from e
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
        reconcile_seconds=lambda: tracker.reconcile_wait,
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
        snapshots=parts.tracker.store,
        board_minute=lambda: orchestrator.totals.last_minute,
        desk=parts.desk,
        upload_rate_limit_per_minute=parts.settings.upload_rate_limit_per_minute,
    )
    app.state.qtc.board.refresh()  # the snapshots so far are read now, not at a request
    parts.api_server = serve(app, parts.settings.api_host, parts.settings.api_port)
