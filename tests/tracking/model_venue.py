"""A small in-memory venue implementing the Broker port: the truth of what executed, with a
stream the test delivers, duplicates, reorders or drops, and a store whose disk can fill up."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from qtc.brokers.base import MAX_LIST_LIMIT, ListStatus
from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderStatus, TradeEvent
from qtc.domain.errors import OrderNotCancelable, OrderNotFound, OrderRejected
from qtc.domain.errors import UnreadableOrder as UnreadableOrderError
from qtc.domain.orders import (
    BrokerOrder,
    OrderRequest,
    ReplaceRequest,
    StreamConnected,
    TradeUpdate,
    UnreadableOrder,
)
from qtc.store.files import FileStore
from qtc.store.records import TradeRecord

S = OrderStatus


@dataclass(slots=True)
class VenueOrder:
    """One order as the venue holds it, with every execution it made."""

    broker_order_id: str
    request: OrderRequest
    submitted_at: datetime
    updated_at: datetime
    status: OrderStatus = S.NEW
    executions: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    raw_status: str | None = None  # a status outside Alpaca's vocabulary: unreadable
    before_cancel: OrderStatus | None = None  # where a rejected cancel sends the order back

    @property
    def filled_qty(self) -> Decimal:
        return sum((q for q, _ in self.executions), ZERO)

    @property
    def notional(self) -> Decimal:
        return sum((q * p for q, p in self.executions), ZERO)

    @property
    def remaining(self) -> Decimal:
        return self.request.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.raw_status is not None or self.status.is_open


class ModelVenue:
    """The reference venue: orders, executions, and the queue of stream events not yet sent."""

    name = "model"

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.orders: dict[str, VenueOrder] = {}
        self.by_client: dict[str, str] = {}
        self.stream: list[TradeUpdate] = []  # sent by the venue, not yet delivered
        self._seq = 0
        self._last_submit: datetime | None = None

    # the venue's own moves, driven by the test

    def snapshot(self, vo: VenueOrder) -> BrokerOrder:
        """The order as the venue reports it now."""
        filled = vo.filled_qty
        avg = None
        if filled:
            # Alpaca reports the average rounded; the tracker must cope
            avg = (vo.notional / filled).quantize(Decimal("0.0000001"))
        r = vo.request
        return BrokerOrder(
            broker_order_id=vo.broker_order_id,
            client_order_id=r.client_order_id,
            symbol=r.symbol,
            side=r.side,
            qty=r.qty,
            order_type=r.order_type,
            time_in_force=r.time_in_force,
            limit_price=r.limit_price,
            status=vo.status,
            filled_qty=filled,
            filled_avg_price=avg,
            submitted_at=vo.submitted_at,
            updated_at=vo.updated_at,
        )

    def emit(
        self,
        vo: VenueOrder,
        event: TradeEvent,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Queue one trade_updates event carrying the order's present snapshot."""
        self._seq += 1
        exec_id = f"x{self._seq}" if qty is not None else None
        self.stream.append(TradeUpdate(event, self.snapshot(vo), self.now(), exec_id, qty, price))

    def execute(self, vo: VenueOrder, qty: Decimal, price: Decimal) -> None:
        """One execution of `qty` at `price` (also while a cancel is pending)."""
        vo.executions.append((qty, price))
        vo.updated_at = self.now()
        if vo.remaining == 0:
            vo.status = S.FILLED
            self.emit(vo, TradeEvent.FILL, qty, price)
            return
        if vo.status is not S.PENDING_CANCEL:
            vo.status = S.PARTIALLY_FILLED
        self.emit(vo, TradeEvent.PARTIAL_FILL, qty, price)

    def confirm_cancel(self, vo: VenueOrder) -> None:
        vo.status = S.CANCELED
        vo.updated_at = self.now()
        self.emit(vo, TradeEvent.CANCELED)

    def reject_cancel(self, vo: VenueOrder) -> None:
        """Alpaca's order_cancel_rejected: the order goes back to work."""
        vo.status = vo.before_cancel or (S.PARTIALLY_FILLED if vo.filled_qty else S.NEW)
        vo.before_cancel = None
        vo.updated_at = self.now()
        self.emit(vo, TradeEvent.ORDER_CANCEL_REJECTED)

    def set_status(self, vo: VenueOrder, status: OrderStatus, event: TradeEvent | None) -> None:
        vo.status = status
        vo.updated_at = self.now()
        if event is not None:
            self.emit(vo, event)

    # the Broker port

    async def submit(self, request: OrderRequest) -> BrokerOrder:
        """Accept every order as `new`; submission times strictly increase."""
        at = self.now()
        if self._last_submit is not None and at <= self._last_submit:
            at = self._last_submit + timedelta(microseconds=1)
        self._last_submit = at
        broker_id = f"venue-{len(self.orders) + 1}"
        vo = VenueOrder(broker_id, request, at, at)
        self.orders[broker_id] = vo
        self.by_client[request.client_order_id] = broker_id
        self.emit(vo, TradeEvent.NEW)
        return self.snapshot(vo)

    async def replace(self, broker_order_id: str, request: ReplaceRequest) -> BrokerOrder:
        """The model's commands never replace (replace is proved by the contract suite)."""
        raise OrderRejected("the model venue does not replace orders")

    async def cancel(self, broker_order_id: str) -> None:
        vo = self.orders.get(broker_order_id)
        if vo is None:
            raise OrderNotFound(broker_order_id)
        if not vo.is_open:
            raise OrderNotCancelable(f"order is {vo.status.value}", vo.status)
        if vo.status is S.PENDING_CANCEL or vo.raw_status is not None:
            return
        vo.before_cancel = vo.status
        vo.status = S.PENDING_CANCEL
        vo.updated_at = self.now()
        self.emit(vo, TradeEvent.PENDING_CANCEL)

    def _read(self, vo: VenueOrder) -> BrokerOrder:
        if vo.raw_status is not None:
            raise UnreadableOrderError(self._unreadable(vo), f"unknown status {vo.raw_status!r}")
        return self.snapshot(vo)

    def _unreadable(self, vo: VenueOrder) -> UnreadableOrder:
        return UnreadableOrder(
            vo.broker_order_id,
            vo.request.client_order_id,
            vo.submitted_at,
            vo.raw_status,
            f"unknown order status {vo.raw_status!r}",
        )

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        vo = self.orders.get(broker_order_id)
        if vo is None:
            raise OrderNotFound(broker_order_id)
        return self._read(vo)

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        broker_id = self.by_client.get(client_order_id)
        if broker_id is None:
            raise OrderNotFound(client_order_id)
        return self._read(self.orders[broker_id])

    async def list_orders(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = MAX_LIST_LIMIT,
    ) -> Sequence[BrokerOrder | UnreadableOrder]:
        """Orders submitted strictly after `after`, oldest first, at most `limit`."""
        out: list[BrokerOrder | UnreadableOrder] = []
        for vo in sorted(self.orders.values(), key=lambda o: o.submitted_at):
            if after is not None and vo.submitted_at <= after:
                continue
            if status == "open" and not vo.is_open:
                continue
            if status == "closed" and vo.is_open:
                continue
            out.append(self._unreadable(vo) if vo.raw_status else self.snapshot(vo))
            if len(out) >= limit:
                break
        return out

    async def updates(self) -> AsyncIterator[TradeUpdate | StreamConnected]:
        """The test delivers the stream itself (see `stream`); this one only connects."""
        yield StreamConnected(self.now())

    async def close(self) -> None:
        return None


class FillableDiskStore(FileStore):
    """A FileStore whose ledger appends fail with ENOSPC while `full` is set."""

    full = False

    def append_trade(self, record: TradeRecord) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().append_trade(record)
