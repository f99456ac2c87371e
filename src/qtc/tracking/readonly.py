"""A read-only `TrackerView` over a competition's files, for `qtc serve`: no broker, no writes.

Each team is loaded the way `qtc run` loads it (ledger replay, open orders, history), into its
own small tracker state, and loaded again when any of its files changes size or mtime, so the
view follows a competition that is still running. Nothing here opens a file for writing or
takes a lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO, to_decimal
from qtc.domain.enums import Side
from qtc.domain.errors import ReadOnlyServer
from qtc.domain.orders import Order
from qtc.domain.portfolio import Portfolio
from qtc.domain.signals import OrderIntent, ReplaceIntent
from qtc.store.files import FileStore
from qtc.tracking.book import OrderIndex
from qtc.tracking.events import EventHub
from qtc.tracking.ledger import Ledger
from qtc.tracking.loading import load_team
from qtc.tracking.ports import StatusFilter, TeamEvent
from qtc.tracking.queries import TrackerQueries

_EVERYTHING = datetime(1970, 1, 1, tzinfo=UTC)  # serve holds every closed order in memory
_RELOADS = 3  # a team whose files change while it loads is loaded again, up to this often


class _TeamFiles(TrackerQueries):
    """One team's orders and portfolio as its files say, at one moment."""

    def __init__(self, team_id: str, store: FileStore, margin: Decimal, log: logging.Logger):
        self.snapshot = store.last_snapshot(team_id) or {}
        capital = _initial_cash(self.snapshot, store, team_id)
        if capital is None:
            log.warning("Team %s: no portfolio snapshot, so its capital is unknown (0)", team_id)
        self.teams = {team_id: capital or ZERO}
        self.book = OrderIndex()
        self.store = store
        self.hub = EventHub()
        self.market_margin = margin
        self.ledger = Ledger(store, self.teams, log)
        load_team(team_id, store, self.ledger, self.book, _EVERYTHING, log)
        self.prices_at = str(self.snapshot.get("timestamp") or "")
        prices = self.snapshot.get("prices") or {}
        self._prices = {str(s): to_decimal(p) for s, p in prices.items()}


def _initial_cash(snapshot: Mapping[str, Any], store: FileStore, team_id: str) -> Decimal | None:
    """The capital that makes the snapshot's cash come out of the ledger's first fills:
    the files record cash after fills, never the capital itself."""
    if "cash" not in snapshot:
        return None
    cash = to_decimal(snapshot["cash"])
    count = int(snapshot.get("fill_count") or 0)
    for record in store.load_trades(team_id)[:count]:
        signed = record.quantity if record.side == Side.BUY else -record.quantity
        cash += signed * record.execution_price
    return cash


class FileView:
    """Every team of a data directory, read-only; commands answer `ReadOnlyServer`."""

    def __init__(
        self,
        store: FileStore,
        *,
        market_margin: Decimal = Decimal("0.05"),
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.market_margin = market_margin
        self.log = logger or logging.getLogger("qtc.serve")
        self.hub = EventHub()
        self._teams: dict[str, tuple[tuple[Any, ...], _TeamFiles]] = {}

    def _team(self, team_id: str) -> _TeamFiles:
        cached = self._teams.get(team_id)
        stamp = self.store.team_stamp(team_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        for _ in range(_RELOADS):
            loaded = _TeamFiles(team_id, self.store, self.market_margin, self.log)
            after = self.store.team_stamp(team_id)
            if after == stamp:
                break
            stamp = after
        self._teams[team_id] = (stamp, loaded)
        return loaded

    def team_ids(self) -> list[str]:
        """Teams with a folder in the data directory."""
        return self.store.team_ids()

    def open_orders(self, team_id: str) -> list[Order]:
        """The team's open orders as pending_orders.jsonl last said, oldest first."""
        return self._team(team_id).open_orders(team_id)

    def get_order(self, team_id: str, order_id: str) -> Order | None:
        """One of the team's orders by either id."""
        return self._team(team_id).get_order(team_id, order_id)

    def list_orders(
        self, team_id: str, status: StatusFilter, limit: int, after: str | None = None
    ) -> list[Order]:
        """The team's orders, newest first."""
        return self._team(team_id).list_orders(team_id, status, limit, after)

    async def submit(self, team_id: str, intent: OrderIntent) -> Order:
        """Never: this view places no order."""
        raise ReadOnlyServer("placed")

    async def cancel(self, team_id: str, order_id: str) -> Order:
        """Never: this view cancels no order."""
        raise ReadOnlyServer("canceled")

    async def replace(self, team_id: str, order_id: str, intent: ReplaceIntent) -> Order:
        """Never: this view replaces no order."""
        raise ReadOnlyServer("replaced")

    def portfolio(self, team_id: str) -> Portfolio:
        """The team's portfolio replayed from its ledger."""
        return self._team(team_id).portfolio(team_id)

    def reserved_cash(self, team_id: str, prices: Mapping[str, Decimal]) -> Decimal:
        """Cash the team's open buys reserve at `prices`."""
        return self._team(team_id).reserved_cash(team_id, prices)

    def trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's ledger lines, newest first."""
        return self.store.recent_trades(team_id, limit)

    def order_trades(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every ledger line of one order, oldest first."""
        return self.store.trades_of_order(team_id, order_id)

    def errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's errors, newest first."""
        return self.store.recent_errors(team_id, limit)

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        """A queue that stays quiet: files make no live events (the stream sends heartbeats)."""
        return self.hub.subscribe(team_id)

    def unsubscribe(self, team_id: str, queue: asyncio.Queue[TeamEvent]) -> None:
        """Stop the queue."""
        self.hub.unsubscribe(team_id, queue)

    def events_since(self, team_id: str, last_id: int) -> list[TeamEvent] | None:
        """The team's retained events after `last_id` (None: beyond the window)."""
        return self.hub.events_since(team_id, last_id)

    def last_event_id(self, team_id: str) -> int:
        """The id of the team's latest event."""
        return self.hub.last_event_id(team_id)

    def prices(self) -> dict[str, Decimal]:
        """The last price of each symbol, from the newest snapshot that values it."""
        newest: dict[str, tuple[str, Decimal]] = {}
        for team_id in self.team_ids():
            team = self._team(team_id)
            for symbol, price in team._prices.items():
                if symbol not in newest or newest[symbol][0] < team.prices_at:
                    newest[symbol] = (team.prices_at, price)
        return {symbol: price for symbol, (_, price) in newest.items()}

    def orders_placed(self) -> dict[str, int]:
        """How many orders each team placed, as the files record them."""
        return {t: sum(1 for _ in self._all_orders(t)) for t in self.team_ids()}

    def _all_orders(self, team_id: str) -> Iterator[Order]:
        team = self._team(team_id)
        yield from team.book.team_orders_newest_first(team_id)
