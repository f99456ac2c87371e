"""`build_components`: a whole run built, loaded and reconciled before its first minute."""

from __future__ import annotations

import gc
import logging
import socket
import time
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from qtc.alpaca.budget import RequestBudget
from qtc.api.keys import KEYS_FILE, KeyStore
from qtc.market.calendar import MarketCalendar
from qtc.metrics.run_metrics import RunMetrics
from qtc.orchestrator import Orchestrator
from qtc.progress import (
    DataDirLock,
    journal_last_minute,
)
from qtc.settings import Settings
from qtc.strategies.teams import TeamSpec
from qtc.wiring.builders import (
    bind_api,
    build_api,
    build_clock,
    build_feed,
    build_monitoring,
    build_strategies,
    build_tracker,
    build_venue,
    open_journal,
)
from qtc.wiring.components import Components
from qtc.wiring.start import loaded, plan_start, readable
from qtc.wiring.versions import build_versions

log = logging.getLogger("qtc.run")


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
        api_socket = bind_api(settings) if settings.api_enabled else None
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
    plan = plan_start(settings, calendar, start=start, live=live, exchanged=exchanged)
    keys = (
        readable(settings.data_dir / KEYS_FILE, lambda: KeyStore(settings.data_dir / KEYS_FILE))
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
    engine = (
        None if settings.use_alpaca else open_journal(settings, specs, feed, journal_path, calendar)
    )
    if engine is not None and engine.last_minute not in (None, exchanged):
        # the journal's own word, once it keeps one, over our reading of its lines
        plan = plan_start(settings, calendar, start=start, live=live, exchanged=engine.last_minute)
    first = plan.first
    clock, speed = build_clock(settings, live, first)
    venue = build_venue(settings, engine, feed, clock, calendar, limiter, first)
    tracker = build_tracker(settings, specs, venue.broker, clock, speed, recorder)
    await loaded(settings.data_dir / "team", tracker.load)
    versions = build_versions(settings, specs)
    strategies = await build_strategies(settings, versions.specs, tracker, recorder)

    # the books are loaded: keep the collector from walking them again and again
    gc.collect()
    gc.freeze()
    orchestrator = Orchestrator(
        teams=versions.specs,  # the params a team's view shows are its version's
        tracker=tracker,
        strategies=strategies,
        feed=feed,
        calendar=calendar,
        clock=clock,
        venue=venue.simulated,
        history_minutes=settings.history_minutes,
        skip_stale=live,
        fast_forward_closed=settings.fast_forward_closed and not live,
        versions=versions.switch(strategies, tracker),
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
    parts.desk = versions.desk(strategies, orchestrator)
    if keys is not None:
        build_api(parts, keys, specs if demo_keys else [])
    return parts
