"""The `Broker` port: the handful of calls the order tracker needs from any broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Literal, Protocol

from qtc.domain.orders import (
    BrokerOrder,
    OrderRequest,
    ReplaceRequest,
    StreamConnected,
    TradeUpdate,
    UnreadableOrder,
)

ListStatus = Literal["open", "closed", "all"]
MAX_LIST_LIMIT = 500


class Broker(Protocol):
    """Submit, cancel, look up and list orders, and stream their updates.

    Errors are those of `qtc.domain.errors`: TransientBrokerError (retry), OrderRejected,
    OrderNotFound, OrderNotCancelable, BrokerAuthError, BrokerProtocolError.
    """

    name: str

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Place an order. BrokerUnavailable means the outcome is unknown: look it up."""
        ...

    async def cancel(self, broker_order_id: str) -> None:
        """Ask for a cancel; the final status arrives as an update."""
        ...

    async def replace(self, broker_order_id: str, request: ReplaceRequest) -> BrokerOrder:
        """Replace an open order (Alpaca's PATCH); returns the new order. The old one ends
        `replaced` keeping its fills. OrderNotCancelable if it is closed, OrderRejected if
        the change is refused."""
        ...

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order by the broker's id; OrderNotFound if there is none."""
        ...

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        """One order by our id; OrderNotFound if there is none."""
        ...

    async def list_orders(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = MAX_LIST_LIMIT,
    ) -> Sequence[BrokerOrder | UnreadableOrder]:
        """Orders submitted strictly after `after`, oldest first, at most `limit` (<= 500).

        An order the broker reports but QTC cannot read stays in the page as UnreadableOrder,
        so that a page is only shorter than `limit` when there is nothing more to list."""
        ...

    def updates(self) -> AsyncIterator[TradeUpdate | StreamConnected]:
        """The live update stream. Yields StreamConnected on every (re)connect; never ends
        unless the broker is closed."""
        ...

    async def close(self) -> None:
        """Release connections and stop the stream."""
        ...
