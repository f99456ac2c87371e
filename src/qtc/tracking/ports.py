"""What the API and the orchestrator read from the order tracker (implemented by OrderTracker)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from qtc.domain.orders import Order
from qtc.domain.portfolio import Portfolio
from qtc.domain.signals import OrderIntent, ReplaceIntent

StatusFilter = Literal["open", "closed", "all"]


@dataclass(frozen=True, slots=True)
class TeamEvent:
    """Something that happened to a team's orders, pushed to live subscribers (SSE).

    kind: "order" (status or fill progress changed; data is the order as the API shows it)
          or "fill" (one ledger line; data is the trade line).
    id: increasing per team, the same on every connection (see `tracking.events`).
    """

    kind: Literal["order", "fill"]
    team_id: str
    data: Mapping[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now().astimezone())
    id: int = 0


class TrackerView(Protocol):
    """Team-scoped reads and commands. Another team's order behaves exactly like a missing one."""

    def team_ids(self) -> list[str]: ...

    def open_orders(self, team_id: str) -> list[Order]:
        """The team's open orders, oldest first."""
        ...

    def get_order(self, team_id: str, order_id: str) -> Order | None:
        """One of the team's orders (open or in history) by order_id or broker_order_id."""
        ...

    def list_orders(
        self, team_id: str, status: StatusFilter, limit: int, after: str | None = None
    ) -> list[Order]:
        """The team's orders, newest first, at most `limit`, strictly older than order `after`."""
        ...

    async def submit(self, team_id: str, intent: OrderIntent) -> Order:
        """Write-ahead, then send to the broker. Raises InvalidSignal when the team cannot
        afford it; a broker rejection returns the order with status rejected."""
        ...

    async def cancel(self, team_id: str, order_id: str) -> Order:
        """Ask the broker to cancel; returns the order (pending_cancel). Raises UnknownOrder
        (not the team's / not there) or OrderClosed (already terminal, with its status)."""
        ...

    async def replace(self, team_id: str, order_id: str, intent: ReplaceIntent) -> Order:
        """Replace an open order; returns the new order. Raises UnknownOrder, OrderClosed,
        InvalidSignal (not allowed or not affordable); a broker refusal returns it rejected."""
        ...

    def portfolio(self, team_id: str) -> Portfolio: ...

    def reserved_cash(self, team_id: str, prices: Mapping[str, Decimal]) -> Decimal: ...

    def trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's ledger lines, newest first."""
        ...

    def order_trades(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every ledger line of one of the team's orders (by either id), of any age, oldest
        first."""
        ...

    def errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The team's errors.jsonl lines, newest first."""
        ...

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        """A queue receiving the team's events from now on (bounded; slow readers drop oldest)."""
        ...

    def unsubscribe(self, team_id: str, queue: asyncio.Queue[TeamEvent]) -> None: ...

    def events_since(self, team_id: str, last_id: int) -> list[TeamEvent] | None:
        """The team's retained events after id `last_id`, oldest first; None when some are
        no longer retained (the client must reload)."""
        ...

    def last_event_id(self, team_id: str) -> int:
        """The id of the team's latest event."""
        ...
