"""The read side of the tracker (the API's `TrackerView`): orders, portfolios, files, events.

Nothing here changes an order or writes a file; `OrderTracker` inherits these queries over the
state it keeps (its order index, ledger, store and event hub).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.enums import OrderStatus
from qtc.domain.orders import Order
from qtc.domain.portfolio import Portfolio, free_cash, free_shares, reservations
from qtc.store.base import Store
from qtc.tracking.applier import Applier
from qtc.tracking.book import OrderIndex
from qtc.tracking.events import EventHub
from qtc.tracking.ledger import Ledger
from qtc.tracking.loading import catch_up_with_ledger
from qtc.tracking.ports import StatusFilter, TeamEvent


class TrackerQueries:
    """Queries over the tracker's state; the attributes are the tracker's own."""

    teams: Mapping[str, Decimal]
    book: OrderIndex
    ledger: Ledger
    store: Store
    hub: EventHub
    applier: Applier
    market_margin: Decimal
    _prices: dict[str, Decimal]

    def team_ids(self) -> list[str]:
        """The competing teams."""
        return list(self.teams)

    def open_orders(self, team_id: str) -> list[Order]:
        """The team's open orders, oldest first."""
        return self.book.open_orders(team_id)

    def open_order_count(self) -> int:
        """Open orders of every team."""
        return self.book.open_count()

    def orders_by_status(self) -> dict[str, int]:
        """Orders held in memory (open ones and recent history) per status, every status
        named (zero when none has it)."""
        counts = self.book.status_counts()
        return {status.value: counts.get(status.value, 0) for status in OrderStatus}

    def subscriber_count(self) -> int:
        """Live event subscribers (SSE streams) over every team."""
        return self.hub.subscriber_count()

    def get_order(self, team_id: str, order_id: str) -> Order | None:
        """One of the team's orders (open or in history) by order_id or broker_order_id."""
        order = self.book.find(order_id)
        if order is None:
            # past memory retention: the history files keep every closed order
            order = self.store.find_closed_order(team_id, order_id)
            if order is not None:
                catch_up_with_ledger(order, self.ledger)
        return order if order is not None and order.team_id == team_id else None

    def list_orders(
        self, team_id: str, status: StatusFilter, limit: int, after: str | None = None
    ) -> list[Order]:
        """The team's orders, newest first by creation (`created_at`, then `order_id`), at most
        `limit`, strictly older than order `after`.

        The order is a total one over everything the team ever placed, wherever an order is
        held: a closed order that leaves memory between two pages keeps its place, so paging
        never skips or repeats one while the run goes on."""
        if limit <= 0:
            return []
        before: tuple[datetime, str] | None = None
        if after is not None:
            cursor = self.get_order(team_id, after)
            if cursor is None:
                return []
            before = _age(cursor)
        wanted = (
            order
            for order in self._held_then_filed(team_id, files=status != "open")
            if (status != "open" or order.is_open)
            and (status != "closed" or not order.is_open)
            and (before is None or _age(order) < before)
        )
        page = heapq.nlargest(limit, wanted, key=_age)
        for order in page:
            if self.book.find(order.order_id) is None:
                catch_up_with_ledger(order, self.ledger)
        return page

    def _held_then_filed(self, team_id: str, *, files: bool) -> Iterator[Order]:
        """The orders held in memory, then the closed ones only the history files hold."""
        seen: set[str] = set()
        for order in self.book.team_orders_newest_first(team_id):
            seen.add(order.order_id)
            yield order
        if not files:
            return
        for order in self.store.closed_orders_newest_first(team_id):
            if order.order_id not in seen and order.team_id == team_id:
                seen.add(order.order_id)
                yield order

    def portfolio(self, team_id: str) -> Portfolio:
        """The team's live portfolio (a fold over its ledger); read it, never mutate it."""
        return self.ledger.portfolios[team_id]

    def reserved_cash(self, team_id: str, prices: Mapping[str, Decimal]) -> Decimal:
        """Cash held back by the team's open buys at `prices`."""
        return reservations(self.book.open_orders(team_id), prices, self.market_margin).cash

    def free_cash(self, team_id: str) -> Decimal:
        """Cash minus what open buys reserve, at the last prices set."""
        reserved = reservations(self.book.open_orders(team_id), self._prices, self.market_margin)
        return free_cash(self.ledger.portfolios[team_id], reserved)

    def free_shares(self, team_id: str, symbol: str) -> Decimal:
        """Shares held minus what open sells reserve."""
        reserved = reservations(self.book.open_orders(team_id), self._prices, self.market_margin)
        return free_shares(self.ledger.portfolios[team_id], reserved, symbol)

    def trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's ledger lines, newest first."""
        return self.store.recent_trades(team_id, limit)

    def order_trades(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every ledger line of one of the team's orders, from every segment, oldest first."""
        return self.store.trades_of_order(team_id, order_id)

    def errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's errors.jsonl lines, newest first."""
        return self.store.recent_errors(team_id, limit)

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        """A queue receiving the team's events from now on (bounded; slow readers drop oldest)."""
        return self.hub.subscribe(team_id)

    def unsubscribe(self, team_id: str, queue: asyncio.Queue[TeamEvent]) -> None:
        """Stop delivering events to `queue`."""
        self.hub.unsubscribe(team_id, queue)

    def events_since(self, team_id: str, last_id: int) -> list[TeamEvent] | None:
        """The team's retained events after `last_id` (None: beyond the window)."""
        return self.hub.events_since(team_id, last_id)

    def last_event_id(self, team_id: str) -> int:
        """The id of the team's latest event."""
        return self.hub.last_event_id(team_id)

    def unattributed_orders(self) -> frozenset[str]:
        """Broker ids of orders seen at the broker that no team placed (never booked)."""
        return self.applier.unattributed


def _age(order: Order) -> tuple[datetime, str]:
    """Where an order stands in the team's history: its creation, ties broken by its id."""
    return order.created_at, order.order_id
