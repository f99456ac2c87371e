"""Orders accepted while their market is closed: held `accepted`, released `new` at the open."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from qtc.domain.enums import OrderStatus, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.book import BookEntry


class Sessions(Protocol):
    """When a symbol trades (`qtc.market.calendar.MarketCalendar` answers it)."""

    def is_open(self, symbol: str, minute: datetime) -> bool: ...


class ClosedMarketQueue:
    """The orders waiting for their market to open, oldest first. Without a session calendar
    every market is always open and nothing ever waits."""

    def __init__(self, sessions: Sessions | None) -> None:
        self._sessions = sessions
        self._waiting: dict[str, BookEntry] = {}

    def is_open(self, symbol: str, now: datetime) -> bool:
        """Whether `symbol` trades at `now`."""
        return self._sessions is None or self._sessions.is_open(symbol, now)

    def check(self, request: OrderRequest) -> None:
        """Raise OrderRejected for an order that cannot wait: ioc and fok live for an instant,
        which a closed market does not have."""
        if request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            raise OrderRejected(
                f"{request.time_in_force} orders are not accepted while the market is closed"
            )

    def hold(self, entry: BookEntry) -> None:
        """Keep a fresh order `accepted` until its market opens."""
        entry.status = OrderStatus.ACCEPTED
        self._waiting[entry.broker_order_id] = entry

    def release(self, now: datetime) -> list[BookEntry]:
        """The waiting orders whose market is open at `now` (and sent before it), made `new`
        (canceled ones are dropped); the caller announces them."""
        released: list[BookEntry] = []
        for order_id, entry in list(self._waiting.items()):
            if not entry.is_open:
                del self._waiting[order_id]
            elif now >= entry.submitted_at and self.is_open(entry.symbol, now):
                del self._waiting[order_id]
                entry.status = OrderStatus.NEW
                entry.updated_at = max(entry.updated_at, now)
                released.append(entry)
        return released
