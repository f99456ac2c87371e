"""Ports for market data and time, injected everywhere so tests never wait on the wall clock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from qtc.domain.market import Bar


class Clock(Protocol):
    """Where the platform learns the time, and how it waits for it."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once `now() >= when` (at once if already past)."""
        ...

    async def pace_to(self, moment: datetime) -> None:
        """How the minute loop waits for `moment`: `sleep_until`, or, for a paced simulated
        clock, moving the clock there at its pace."""
        ...


class MarketFeed(Protocol):
    """Minute bars for a universe of symbols."""

    @property
    def universe(self) -> list[str]:
        """Every symbol the feed knows."""
        ...

    def bars_at(self, minute: datetime) -> dict[str, Bar]:
        """The bars of the minute starting at `minute` (UTC, whole minute), for each symbol that
        traded in it; empty outside trading hours."""
        ...

    def history(self, symbol: str, end: datetime, count: int) -> list[Bar]:
        """Up to `count` bars of `symbol` before `end` (exclusive), oldest first."""
        ...

    def last_price(self, symbol: str, at: datetime) -> Decimal | None:
        """Close of the last bar before `at`, if any."""
        ...

    async def refresh(self, minute: datetime) -> None:
        """Fetch the bars of `minute` before they are read (a live feed); else nothing."""
        ...
