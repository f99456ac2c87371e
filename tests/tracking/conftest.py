"""Builders for the tracker tests: a simulated exchange, a manual clock and trackers over files."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.market import Bar
from qtc.domain.orders import TradeUpdate
from qtc.domain.portfolio import Portfolio
from qtc.domain.signals import OrderIntent
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.store.files import FileStore
from qtc.store.records import TradeRecord
from qtc.tracking.tracker import OrderTracker

# Monday 2 March 2026, 09:30 New York: the first minute of a regular session.
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SYMBOLS = ("AAPL", "MSFT", "BTC/USD")
TEAMS = {"alpha": Decimal("100000"), "beta": Decimal("50000")}
D = Decimal


def intent(
    symbol: str = "AAPL",
    side: str = "buy",
    qty: str = "10",
    price: str = "100",
    order_type: str = "limit",
    tif: str = "day",
    **extra: Any,
) -> OrderIntent:
    """An already validated order intent."""
    ot = OrderType(order_type)
    return OrderIntent(
        symbol=symbol,
        side=Side(side),
        quantity=D(qty),
        order_type=ot,
        time_in_force=TimeInForce(tif),
        limit_price=D(price) if ot is OrderType.LIMIT else None,
        requested_price=D(price),
        extra=dict(extra),
    )


class Kit:
    """One exchange (engine + simulated broker + manual clock) and trackers over a data dir.

    Every event the engine emits is recorded; `pump()` applies the ones not yet applied to the
    current tracker, as the live stream would (deterministically, without a background task).
    """

    def __init__(self, data_dir: Path, **engine_kwargs: Any) -> None:
        engine_kwargs.setdefault("seed", 7)
        engine_kwargs.setdefault("symbols", SYMBOLS)
        self.data_dir = data_dir
        self.clock = ManualClock(T0 + timedelta(minutes=1, seconds=5))
        self.engine = ExchangeEngine(**engine_kwargs)
        self.broker = SimulatedBroker(self.engine, self.clock)
        self.events: list[TradeUpdate] = []
        self.engine.subscribe(self.events.append)
        self.applied = 0
        self.feed(0, self.bar(0, "100", volume="1000"))
        self.tracker = self.new_tracker()

    def new_tracker(self, **kwargs: Any) -> OrderTracker:
        """A fresh tracker (as after a restart) over the same files and exchange."""
        kwargs.setdefault("teams", TEAMS)
        kwargs.setdefault("broker", self.broker)
        tracker = OrderTracker(
            store=FileStore(self.data_dir),
            clock=self.clock,
            logger=logging.getLogger("qtc.tracker.test"),
            **kwargs,
        )
        self.tracker = tracker
        return tracker

    @staticmethod
    def at(minute: int, second: int = 0) -> datetime:
        return T0 + timedelta(minutes=minute, seconds=second)

    @staticmethod
    def bar(
        minute: int,
        open: str,
        low: str | None = None,
        high: str | None = None,
        volume: str = "1000",
        symbol: str = "AAPL",
    ) -> Bar:
        o = D(open)
        return Bar(
            symbol=symbol,
            timestamp=T0 + timedelta(minutes=minute),
            open=o,
            high=D(high) if high is not None else o,
            low=D(low) if low is not None else o,
            close=o,
            volume=D(volume),
        )

    def feed(self, minute: int, *bars: Bar) -> None:
        """The bars of `minute` are complete: the exchange matches resting orders."""
        self.engine.on_minute(self.at(minute), {b.symbol: b for b in bars})
        self.clock.set(max(self.clock.now(), self.at(minute + 1, 5)))

    async def pump(self) -> int:
        """Apply every recorded event not yet applied, in order; returns how many."""
        count = 0
        while self.applied < len(self.events):
            update = self.events[self.applied]
            self.applied += 1
            await self.tracker.apply_update(update)
            count += 1
        self.tracker.flush()
        return count

    def skip(self) -> None:
        """Drop recorded events unseen (as if the stream was down)."""
        self.applied = len(self.events)

    # what the user can see

    def team_dir(self, team: str) -> Path:
        return self.data_dir / "team" / team

    def lines(self, team: str, name: str) -> list[dict[str, Any]]:
        path = self.team_dir(team) / name
        if not path.exists():
            return []
        out = []
        text = path.read_text()
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                # only a torn last line (no newline after it) may be unreadable
                assert not text.endswith("\n") and text.endswith(line), line
        return out

    def ledger(self, team: str) -> list[TradeRecord]:
        return [TradeRecord.from_json(x) for x in self.lines(team, "trades.jsonl")]

    def replay(self, team: str) -> Portfolio:
        return Portfolio.replay(TEAMS[team], (r.to_fill() for r in self.ledger(team)))

    def executions_of(self, client_order_id: str) -> list[tuple[Decimal, Decimal]]:
        return [
            (e.qty, e.price) for e in self.engine.executions if e.client_order_id == client_order_id
        ]


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    """An exchange whose AAPL last traded at 100 with 100 shares of budget, and a tracker."""
    return Kit(tmp_path / "data")


@pytest.fixture
def make_kit(tmp_path: Path) -> Callable[..., Kit]:
    """Build a Kit with other engine settings."""
    return lambda **kw: Kit(tmp_path / "data", **kw)
