"""The `Store` port: what the order tracker needs from storage (files today, a database later)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from qtc.domain.orders import Order
from qtc.store.records import TradeRecord


class Store(Protocol):
    """Per-team ledger, open orders, order history, portfolio snapshots and errors.

    Appends marked durable are on stable storage when the call returns. Readers never fail on
    a torn last line (from a crash): it is skipped with a warning.
    """

    def team_ids(self) -> list[str]:
        """Teams that have any stored data."""
        ...

    def load_trades(self, team_id: str) -> list[TradeRecord]:
        """The team's whole ledger, oldest first (for replay at load)."""
        ...

    def append_trade(self, record: TradeRecord) -> None:
        """Append one ledger line; durable."""
        ...

    def recent_trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's last `limit` ledger lines as JSON, newest first."""
        ...

    def trades_of_order(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every ledger line of one order (by either id), oldest first, of any age."""
        ...

    def load_open_orders(self, team_id: str) -> list[Order]:
        """The team's open orders as last saved."""
        ...

    def save_open_orders_of(self, open_orders: Mapping[str, Sequence[Order]]) -> None:
        """Replace the open orders of these teams atomically (a team with none loses its
        record); durable when this returns, the syncs batched for all of them."""
        ...

    def encode_open_order(self, order: Order) -> str:
        """One open order as the open-orders record keeps it."""
        ...

    def save_open_records_of(self, records: Mapping[str, Collection[str]]) -> None:
        """`save_open_orders_of` for orders encoded by `encode_open_order`; may run on a
        writer thread (it reads only its arguments)."""
        ...

    def append_intents(self, orders: Sequence[Order]) -> None:
        """Record a batch of new orders before any is sent (the write-ahead); durable."""
        ...

    def load_intents(self) -> list[Order]:
        """The orders recorded by `append_intents` and not yet dropped, oldest first."""
        ...

    def rotate_intents(self) -> int:
        """Set the intents recorded so far aside as one generation and return its number:
        new intents are recorded apart from it."""
        ...

    def drop_intents(self, upto: int) -> None:
        """Forget the generations of intents up to `upto`: the open orders saved since
        `rotate_intents` returned it hold every one of them."""
        ...

    def append_order_history(self, order: Order) -> None:
        """Record an order that reached a terminal status; durable once the next `sync` or
        `save_open_orders_of` returns (the caller keeps the order in the open-orders record
        until then, so a crash in between loses nothing: the order is reloaded open)."""
        ...

    def load_order_history(self, team_id: str) -> list[Order]:
        """The team's closed orders, oldest line first (a later line for the same id wins)."""
        ...

    def find_closed_order(self, team_id: str, order_id: str) -> Order | None:
        """The latest history line of one closed order (by either id), of any age."""
        ...

    def closed_orders_newest_first(self, team_id: str) -> Iterator[Order]:
        """Every closed order once (its latest line), the last closed first, of any age."""
        ...

    def append_snapshot(self, team_id: str, at: datetime, snapshot: Mapping[str, Any]) -> None:
        """Record a portfolio snapshot (derived data: not necessarily durable)."""
        ...

    def iter_snapshots(
        self, team_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """The team's portfolio snapshots timed in [start, end) (None: unbounded), oldest
        first, streamed (never the whole history in memory)."""
        ...

    def append_error(self, team_id: str, record: Mapping[str, Any]) -> None:
        """Record a strategy or order error (timestamp, phase, message, signal); durable once
        the next `sync` or `save_open_orders_of` returns."""
        ...

    def sync(self) -> None:
        """Make every record written so far durable (one sync for all of them)."""
        ...

    def recent_errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's last `limit` errors, newest first."""
        ...
