"""Builds the running system from settings: the only place that picks concrete adapters."""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn

from qtc.api.app import create_app
from qtc.api.keys import KeyStore
from qtc.api.server import bind_socket, serve
from qtc.brokers.base import Broker
from qtc.brokers.ratelimit import RateLimiter
from qtc.brokers.simulated import SimulatedBroker
from qtc.exchange.driver import ExchangeDriver
from qtc.exchange.journal import JournaledEngine
from qtc.market.base import Clock, MarketFeed
from qtc.market.calendar import MarketCalendar
from qtc.market.clock import PacedClock, RealClock
from qtc.market.replay import ReplayMarket
from qtc.market.simulated import DEFAULT_UNIVERSE, SimulatedMarket
from qtc.orchestrator import Orchestrator
from qtc.settings import Settings
from qtc.store.files import FileStore
from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec
from qtc.tracking.tracker import OrderTracker

log = logging.getLogger("qtc.run")
PROGRESS_FILE = "run_state.json"
DEMO_LEAD_MINUTES = 150


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
    api_server: uvicorn.Server | None = None
    api_socket: socket.socket | None = None
    limiter: RateLimiter | None = None
    journal: JournaledEngine | None = None
    demo_keys: dict[str, str] = field(default_factory=dict)

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
        """Remember where the simulated session got to, so a restart resumes there."""
        path = self.settings.data_dir / PROGRESS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_minute": next_minute.isoformat()}))
        os.replace(tmp, path)

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
        last = self.orchestrator.totals.last_minute
        now = self.clock.now()
        teams = list(self.orchestrator.teams)
        return {
            "running": not self.orchestrator.stopping,
            "market_open": self.calendar.is_open("SPY", now.replace(second=0, microsecond=0)),
            "last_minute_processed": last.isoformat() if last else None,
            "now": now.isoformat(),
            "broker": self.broker_name,
            "teams": len(teams),
            "open_orders": sum(len(self.tracker.open_orders(t)) for t in teams),
        }

    async def close(self) -> None:
        await self.strategies.close()
        self.tracker.flush()
        await self.broker.close()
        if self.limiter is not None:
            self.limiter.close()
        if self.journal is not None:
            self.journal.close()


class StartupError(Exception):
    """The run cannot start; the message says why and what to do."""


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


def _resume_minute(data_dir: Path) -> datetime | None:
    path = data_dir / PROGRESS_FILE
    try:
        raw = json.loads(path.read_text())
        return datetime.fromisoformat(raw["next_minute"]).astimezone(UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None


async def build_components(
    settings: Settings,
    specs: list[TeamSpec],
    *,
    start: datetime | None,
    market: str,
    bars: list[Path],
    demo_keys: bool = False,
) -> Components:
    """Build, load and reconcile everything; nothing runs until the caller starts the loops.

    Raises StartupError (nothing started, nothing written) when the API port is taken."""
    api_socket = _bind_api(settings) if settings.api_enabled else None
    calendar = MarketCalendar()
    # one budget of REST requests for the whole Alpaca account: orders and market data share it
    limiter = RateLimiter(
        limit=settings.alpaca_rate_limit_per_minute,
        now=time.time,  # wall clock: the journal's times must mean the same after a restart
        journal=settings.data_dir / "alpaca_requests.log" if settings.use_alpaca else None,
    )
    feed: MarketFeed
    if bars:
        feed = ReplayMarket.from_files(bars)
    elif market == "alpaca":
        from qtc.market.alpaca_feed import AlpacaMarketFeed

        feed = AlpacaMarketFeed.from_settings(
            settings, settings.symbols or DEFAULT_UNIVERSE, limiter
        )
    else:
        feed = SimulatedMarket(settings.seed, calendar, settings.symbols)

    live = market == "alpaca" and settings.use_alpaca
    first = start or _resume_minute(settings.data_dir)
    if first is None:
        first = (
            datetime.now(UTC).replace(second=0, microsecond=0)
            if live
            else _default_start(calendar, datetime.now(UTC))
        )
    clock: Clock = RealClock() if live else PacedClock(first, 60_000.0 / settings.speed)

    exchange: ExchangeDriver | None = None
    journal: JournaledEngine | None = None
    broker: Broker
    if settings.use_alpaca:
        from qtc.brokers.alpaca import AlpacaBroker

        broker = AlpacaBroker.from_settings(settings, limiter)
        broker_name = "alpaca"
    else:
        engine = JournaledEngine.open(
            settings.data_dir / "exchange" / "journal.jsonl",
            seed=settings.seed,
            symbols=feed.universe,
            # one paper account shared by every team, funded with all their capital
            buying_power=sum((spec.capital for spec in specs), Decimal(0)),
            participation=settings.participation,
            half_spread_bps=settings.half_spread_bps,
        )
        broker = SimulatedBroker(engine, clock)
        exchange = ExchangeDriver(engine, feed, clock, calendar, start=first)
        broker_name = "simulated"
        journal = engine

    # Intervals are real seconds (they pace broker traffic); an accelerated clock counts faster.
    pace = clock.speed if isinstance(clock, PacedClock) else 1.0
    store = FileStore(settings.data_dir)
    tracker = OrderTracker(
        store=store,
        broker=broker,
        clock=clock,
        teams={spec.team_id: spec.capital for spec in specs},
        reconcile_interval=settings.reconcile_interval * pace,
        retention_days=settings.retention_days,
        cleanup_interval=settings.cleanup_interval * pace,
        market_margin=settings.market_order_margin,
    )
    await tracker.load()

    strategies = StrategyPool(
        specs,
        timeout=settings.strategy_timeout,
        memory_mb=settings.strategy_memory_mb,
        scratch_root=settings.data_dir / "scratch",
    )
    load_errors = await strategies.start()
    for team_id, error in load_errors.items():
        if error is not None:
            log.error("Team %s strategy failed to load: %s", team_id, error.message)
            tracker.record_error(team_id, error.phase, error.message, error.signal)

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
        exchange=exchange,
        history_minutes=settings.history_minutes,
        pace=clock.pace_to if isinstance(clock, PacedClock) else None,
        settle=broker.settle if isinstance(broker, SimulatedBroker) else None,
        refresh=getattr(feed, "refresh", None),
    )
    parts = Components(
        settings=settings,
        orchestrator=orchestrator,
        tracker=tracker,
        broker=broker,
        broker_name=broker_name,
        clock=clock,
        calendar=calendar,
        strategies=strategies,
        first_minute=first,
        journal=journal,
        limiter=limiter,
    )
    if settings.api_enabled:
        keys = KeyStore(settings.data_dir / "api_keys.json")
        if demo_keys:
            parts.demo_keys = {spec.team_id: keys.issue(spec.team_id) for spec in specs}
        app = create_app(
            tracker,
            keys,
            status=parts.status,
            leaderboard=orchestrator.leaderboard,
            rate_limit_per_minute=settings.api_rate_limit_per_minute,
            prices=lambda: orchestrator.prices,
        )
        parts.api_server = serve(app, settings.api_host, settings.api_port)
        parts.api_socket = api_socket
    return parts
