"""Feeds the exchange engine each minute's bars as the clock passes, and closes each session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from qtc.clock import Clock
from qtc.domain.times import MINUTE
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.market.base import MarketFeed

log = logging.getLogger(__name__)


class SessionCalendar(Protocol):
    """The two questions the driver asks a market calendar (MarketCalendar answers them)."""

    def is_open(self, symbol: str, minute: datetime) -> bool:
        """True if `symbol` trades at `minute`."""
        ...

    def session_close(self, minute: datetime) -> datetime | None:
        """Close of the equity session containing `minute`, None outside regular hours."""
        ...


def floor_minute(moment: datetime) -> datetime:
    """`moment` truncated to its whole minute."""
    return moment.replace(second=0, microsecond=0)


class ExchangeDriver:
    """Runs the engine's minute: once `minute + 1` has come, match against the bars of `minute`,
    and expire day orders when that minute ends a session."""

    def __init__(
        self,
        engine: ExchangeEngine,
        feed: MarketFeed,
        clock: Clock,
        calendar: SessionCalendar,
        *,
        start: datetime | None = None,
    ) -> None:
        """Drive `engine` from `feed`; the first minute fed is `start` (default: clock's now)."""
        self.engine = engine
        self.feed = feed
        self.clock = clock
        self.calendar = calendar
        self._next = floor_minute(start if start is not None else clock.now())
        self._stopped = False
        self.processed_through: datetime | None = None  # the last minute fed to the engine
        self._seeded = False
        # called with each minute once it is fed (the exchange records its equity history)
        self.observers: list[Callable[[datetime], None]] = []

    @property
    def next_minute(self) -> datetime:
        """The next minute whose bars the driver will feed."""
        return self._next

    def step(self, minute: datetime) -> None:
        """Feed the bars of `minute` (only symbols the calendar says trade) and close the
        session if it ends with this minute."""
        bars = {
            symbol: bar
            for symbol, bar in self.feed.bars_at(minute).items()
            if symbol in self.engine.symbols and self.calendar.is_open(symbol, minute)
        }
        self.engine.on_minute(minute, bars)
        if not self._seeded:
            self.seed_prices(minute + MINUTE)
        close = self.calendar.session_close(minute)
        if close is not None and close <= minute + MINUTE:
            expired = self.engine.end_session(close)
            log.info("Session closed at %s: expired %d day orders", close.isoformat(), len(expired))
        self.processed_through = minute
        for observer in self.observers:
            observer(minute)

    def seed_prices(self, at: datetime) -> None:
        """Give every symbol without a trade yet (an equity while its market is closed) the
        feed's last close before `at`: an order submitted then waits for the open and
        reserves at that price, as Alpaca's does at the previous close."""
        self._seeded = True
        for symbol in sorted(self.engine.symbols):
            if self.engine.last_price(symbol) is None:
                price = self.feed.last_price(symbol, at)
                if price is not None:
                    self.engine.set_price(symbol, price)

    def catch_up(self) -> int:
        """Feed every minute that has fully passed on the clock; return how many."""
        count = 0
        while not self._stopped and self._next + MINUTE <= self.clock.now():
            self.step(self._next)
            self._next += MINUTE
            count += 1
        return count

    async def run(self) -> None:
        """Feed minutes as the clock passes them until `stop()` (or the task is canceled)."""
        while not self._stopped:
            await self.clock.sleep_until(self._next + MINUTE)
            self.catch_up()

    def stop(self) -> None:
        """Make `run` return after the current minute."""
        self._stopped = True
