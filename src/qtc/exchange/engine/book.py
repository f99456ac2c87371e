"""The simulated exchange's order book: every order it ever accepted, with its live state."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from qtc.domain.decimals import ZERO, normalize
from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.errors import OrderNotFound
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.exchange.engine.index import TriggerIndex
from qtc.exchange.engine.pricing import average

ListStatus = Literal["open", "closed", "all"]
Direction = Literal["asc", "desc"]


@dataclass(slots=True)
class BookEntry:
    """One order's live state; `reserve_price` prices the cash an open buy holds back.

    A stop (or trailing stop) is `triggered` once the bar path crossed its stop: from then on
    it trades as a market (stop_limit: as a limit). `opened` marks an opg order whose session
    open has come. `parent`/`legs` link a bracket, oco or oto group."""

    seq: int
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    reserve_price: Decimal
    submitted_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = ZERO
    notional: Decimal = ZERO
    reason: str | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    triggered: bool = False
    opened: bool = False
    order_class: OrderClass = OrderClass.SIMPLE
    parent: BookEntry | None = field(default=None, repr=False)
    legs: list[BookEntry] = field(default_factory=list, repr=False)
    replaced_by: str | None = None
    replaces: str | None = None
    amount: Decimal | None = None  # a notional order's dollar amount (`qty` what it bought)

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    def add_fill(self, qty: Decimal, price: Decimal, at: datetime) -> None:
        """Book one execution on this order and move it to partially_filled or filled."""
        self.filled_qty = normalize(self.filled_qty + qty)
        self.notional += qty * price
        self.status = OrderStatus.FILLED if self.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        self.updated_at = max(self.updated_at, at)

    def close(self, status: OrderStatus, at: datetime, reason: str | None = None) -> None:
        """End the order (canceled or expired), keeping what filled."""
        self.status = status
        self.reason = reason
        self.updated_at = max(self.updated_at, at)

    def snapshot(self) -> BrokerOrder:
        """The order as the exchange reports it: cumulative filled_qty and filled_avg_price."""
        return BrokerOrder(
            broker_order_id=self.broker_order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            limit_price=self.limit_price,
            status=self.status,
            filled_qty=self.filled_qty,
            filled_avg_price=average(self.notional, self.filled_qty) if self.filled_qty else None,
            submitted_at=self.submitted_at,
            updated_at=self.updated_at,
            reason=self.reason,
            stop_price=self.stop_price,
            trail_price=self.trail_price,
            trail_percent=self.trail_percent,
            hwm=self.hwm,
            order_class=self.order_class,
            legs=tuple(leg.snapshot() for leg in self.legs),
            replaced_by=self.replaced_by,
            replaces=self.replaces,
            notional=self.amount,
        )


def entry_from(
    request: OrderRequest,
    seq: int,
    broker_order_id: str,
    client_order_id: str,
    reserve_price: Decimal,
    now: datetime,
) -> BookEntry:
    """A newly accepted order's entry; only the prices its type uses are kept."""
    kind = request.order_type
    trailing = kind is OrderType.TRAILING_STOP

    def price(value: Decimal | None, used: bool) -> Decimal | None:
        return normalize(value) if used and value is not None else None

    return BookEntry(
        seq=seq,
        broker_order_id=broker_order_id,
        client_order_id=client_order_id,
        symbol=request.symbol,
        side=request.side,
        qty=normalize(request.qty),
        order_type=kind,
        time_in_force=request.time_in_force,
        limit_price=price(request.limit_price, kind.has_limit),
        stop_price=price(request.stop_price, kind.has_stop),
        trail_price=price(request.trail_price, trailing),
        trail_percent=price(request.trail_percent, trailing),
        order_class=request.order_class,
        reserve_price=reserve_price,
        submitted_at=now,
        updated_at=now,
        amount=None if request.notional is None else normalize(request.notional),
    )


class ExchangeOrders:
    """Orders by exchange id and by client id (unique forever), in submission order, with
    the open ones indexed by the price that makes them trade (see TriggerIndex)."""

    def __init__(self) -> None:
        self._by_id: dict[str, BookEntry] = {}
        self._by_client_id: dict[str, BookEntry] = {}
        self._open: dict[str, BookEntry] = {}  # insertion order is submission order (FIFO)
        # the same open orders per symbol, so a minute's matching reads only its symbol's
        self._open_by_symbol: dict[str, dict[str, BookEntry]] = {}
        self.index = TriggerIndex()

    def __iter__(self) -> Iterator[BookEntry]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def knows_client_id(self, client_order_id: str) -> bool:
        return client_order_id in self._by_client_id

    def add(self, entry: BookEntry) -> None:
        """Record a newly accepted order."""
        self._by_id[entry.broker_order_id] = entry
        self._by_client_id[entry.client_order_id] = entry
        self._open[entry.broker_order_id] = entry
        self._open_by_symbol.setdefault(entry.symbol, {})[entry.broker_order_id] = entry
        self.index.place(entry)

    def settle(self, entry: BookEntry) -> None:
        """Drop a closed order from the open set (it stays in the history); re-index an open
        one whose trading price changed (triggered, activated, a trailing stop moved)."""
        self.index.place(entry)
        if not entry.is_open:
            self._open.pop(entry.broker_order_id, None)
            self._open_by_symbol.get(entry.symbol, {}).pop(entry.broker_order_id, None)

    def get(self, broker_order_id: str) -> BookEntry:
        try:
            return self._by_id[broker_order_id]
        except KeyError:
            raise OrderNotFound(f"order not found: {broker_order_id}") from None

    def get_by_client_id(self, client_order_id: str) -> BookEntry:
        try:
            return self._by_client_id[client_order_id]
        except KeyError:
            raise OrderNotFound(f"order not found for client_order_id {client_order_id}") from None

    def open_orders(self, symbol: str | None = None) -> list[BookEntry]:
        """Open orders, oldest first (a copy, so callers may close orders while iterating)."""
        if symbol is None:
            return list(self._open.values())
        return list(self._open_by_symbol.get(symbol, {}).values())

    def select(
        self,
        status: ListStatus,
        after: datetime | None,
        until: datetime | None,
        symbols: Iterable[str] | None,
    ) -> list[BookEntry]:
        """Orders matching the filters, oldest first."""
        wanted = None if symbols is None else set(symbols)
        if status == "open":
            pool: Iterable[BookEntry] = self._open.values()
        else:
            pool = self._by_id.values()
        chosen = [
            e
            for e in pool
            if (status != "closed" or not e.is_open)
            and (after is None or e.submitted_at > after)
            and (until is None or e.submitted_at < until)
            and (wanted is None or e.symbol in wanted)
        ]
        chosen.sort(key=lambda e: (e.submitted_at, e.seq))
        return chosen
