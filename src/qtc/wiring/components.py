"""What `qtc run` built and started, how it reports its status, and how it stops."""

from __future__ import annotations

import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn

from qtc.alpaca.budget import RequestBudget
from qtc.brokers.base import Broker
from qtc.clock import Clock
from qtc.domain.times import MINUTE
from qtc.exchange.engine.journal import JournaledEngine
from qtc.market.calendar import MarketCalendar
from qtc.metrics.health import Readiness
from qtc.metrics.run_metrics import RunMetrics
from qtc.orchestrator import Orchestrator
from qtc.progress import (
    DataDirLock,
    save_progress,
)
from qtc.settings import Settings
from qtc.strategies.pools import Pool
from qtc.tracking.tracker import OrderTracker
from qtc.uploads.service import StrategyDesk
from qtc.views.status import status_view


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
    strategies: Pool
    first_minute: datetime
    recorder: RunMetrics
    readiness: Readiness
    api_server: uvicorn.Server | None = None
    api_socket: socket.socket | None = None
    limiter: RequestBudget | None = None
    journal: JournaledEngine | None = None
    lock: DataDirLock | None = None
    demo_keys: dict[str, str] = field(default_factory=dict)
    desk: StrategyDesk | None = None  # strategy uploads and versions (the API's)

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
