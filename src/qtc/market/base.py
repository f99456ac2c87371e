"""The market-data port: minute bars for a universe of symbols."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from qtc.domain.market import Bar


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
