"""The simulated exchange's matching engine: synchronous, deterministic, no I/O.

Timing model (the contract the driver, the broker and the HTTP facade rely on):

- `on_minute(minute, bars)` is called once the bar of `minute` is complete (the driver calls it
  as the clock passes `minute + 1`). Resting orders match against that bar, oldest first; then
  the last price of each symbol is the bar's close and what is left of the bar's volume budget
  (`participation` x volume) is available to orders submitted before the next `on_minute`.
- `submit` fills a marketable order at once against that remaining budget, at the last price
  plus (buy) or minus (sell) the half-spread; its events are emitted before `submit` returns.
- `end_session(now)` is explicit: it expires every open `day` order (keeping its fills) and
  closes equity liquidity until the next bar. The driver calls it at each session close.
"""

from __future__ import annotations

import builtins
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from qtc.domain.decimals import ZERO, normalize
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import OrderNotCancelable, OrderRejected
from qtc.domain.market import Bar, is_crypto
from qtc.domain.orders import BrokerOrder, OrderRequest, TradeUpdate
from qtc.domain.times import MINUTE
from qtc.exchange.engine.account import Account
from qtc.exchange.engine.admission import check_request
from qtc.exchange.engine.book import BookEntry, ExchangeOrders
from qtc.exchange.engine.pricing import (
    floor_qty,
    quote,
    round_to_tick,
)
from qtc.exchange.engine.records import AccountSnapshot, Execution, Position

ListStatus = Literal["open", "closed", "all"]
Direction = Literal["asc", "desc"]
Listener = Callable[[TradeUpdate], None]

__all__ = [
    "AccountSnapshot",
    "Direction",
    "ExchangeEngine",
    "Execution",
    "ListStatus",
    "Listener",
    "Position",
]

_IMMEDIATE_TIFS = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class ExchangeEngine:
    """An in-process exchange that behaves like Alpaca paper trading, driven by minute bars."""

    def __init__(
        self,
        *,
        seed: int,
        symbols: Iterable[str],
        buying_power: Decimal = Decimal("10000000"),
        participation: Decimal = Decimal("0.1"),
        half_spread_bps: Decimal = Decimal("2"),
    ) -> None:
        """Build an empty book for `symbols` with `buying_power` of cash; ids come from `seed`."""
        if not ZERO < participation <= 1:
            raise ValueError(f"participation must be in (0, 1], got {participation}")
        if half_spread_bps < 0:
            raise ValueError(f"half_spread_bps must not be negative, got {half_spread_bps}")
        self._symbols = frozenset(symbols)
        self._rng = random.Random(seed)
        self._participation = participation
        self._half_spread_bps = half_spread_bps
        self._account = Account(buying_power)
        self._book = ExchangeOrders()
        self._executions: list[Execution] = []
        self._last: dict[str, Decimal] = {}
        self._liquidity: dict[str, Decimal] = {}  # volume left in the current minute's budget
        self._listeners: list[Listener] = []
        self._outbox: deque[TradeUpdate] = deque()
        self._delivering = False
        self._seq = 0
        self._reserved = ZERO  # cash held back by open buys

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol the exchange trades."""
        return self._symbols

    def submit(self, request: OrderRequest, now: datetime) -> BrokerOrder:
        """Accept an order (emitting `new`, and fills if it is marketable now) or raise
        OrderRejected(reason). Returns the order as it stands after any immediate fills."""
        client_order_id = request.client_order_id or self._new_id()
        reserve_price = self._admit(request, client_order_id)
        self._seq += 1
        entry = BookEntry(
            seq=self._seq,
            broker_order_id=self._new_id(),
            client_order_id=client_order_id,
            symbol=request.symbol,
            side=request.side,
            qty=normalize(request.qty),
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            limit_price=(
                normalize(request.limit_price)
                if request.order_type is OrderType.LIMIT and request.limit_price is not None
                else None
            ),
            reserve_price=reserve_price,
            submitted_at=now,
            updated_at=now,
        )
        self._book.add(entry)
        self._reserved += self._reservation(entry)
        self._emit(TradeEvent.NEW, entry, now)
        self._match_now(entry, now)
        self._deliver()
        return entry.snapshot()

    def cancel(self, broker_order_id: str, now: datetime) -> BrokerOrder:
        """Cancel an open order, keeping what filled; emits `canceled`.

        OrderNotFound if unknown; OrderNotCancelable(msg, status) if already closed."""
        entry = self._book.get(broker_order_id)
        if not entry.is_open:
            raise OrderNotCancelable(
                f"order {broker_order_id} is already {entry.status}", entry.status
            )
        self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
        self._deliver()
        return entry.snapshot()

    def cancel_all(self, now: datetime) -> builtins.list[BrokerOrder]:
        """Cancel every open order, oldest first; returns the canceled orders."""
        canceled = []
        for entry in self._book.open_orders():
            self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
            canceled.append(entry.snapshot())
        self._deliver()
        return canceled

    def get(self, broker_order_id: str) -> BrokerOrder:
        """One order by the exchange's id; OrderNotFound if there is none."""
        return self._book.get(broker_order_id).snapshot()

    def get_by_client_id(self, client_order_id: str) -> BrokerOrder:
        """One order by the client's id; OrderNotFound if there is none."""
        return self._book.get_by_client_id(client_order_id).snapshot()

    def list(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = 500,
        *,
        until: datetime | None = None,
        direction: Direction = "asc",
        symbols: Iterable[str] | None = None,
    ) -> builtins.list[BrokerOrder]:
        """Orders submitted strictly after `after` (and strictly before `until`), at most `limit`,
        oldest first (`direction="desc"`: newest first, as Alpaca's default)."""
        if status not in ("open", "closed", "all"):
            raise ValueError(f"status must be open, closed or all, got {status!r}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        chosen = self._book.select(status, after, until, symbols)
        if direction == "desc":
            chosen.reverse()
        return [e.snapshot() for e in chosen[:limit]]

    def list_orders(
        self,
        status: ListStatus = "open",
        after: datetime | None = None,
        limit: int = 500,
    ) -> builtins.list[BrokerOrder]:
        """Alias of `list(status, after, limit)` for readers who expect the Broker's name."""
        return self.list(status, after, limit)

    def on_minute(
        self, minute: datetime, bars: Mapping[str, Bar], now: datetime | None = None
    ) -> None:
        """Match resting orders submitted before the bars' end against the bars of `minute`;
        fills are stamped `now` (default: the end of the minute, `minute + 1 min`). Symbols
        without a bar have no liquidity until the next bar."""
        bar_end = minute + MINUTE
        stamp = bar_end if now is None else now
        self._liquidity = {}
        for symbol in sorted(bars):
            if symbol not in self._symbols:
                continue
            bar = bars[symbol]
            budget = floor_qty(self._participation * bar.volume, whole=False)
            low, high = bar.low, bar.high
            for entry in self._book.open_orders(symbol):
                if budget <= 0:
                    break
                if entry.submitted_at >= bar_end:
                    continue  # the order came after this bar: it may only trade later bars
                limit = entry.limit_price
                if limit is not None and (limit < low if entry.side is Side.BUY else limit > high):
                    continue  # the bar never reached the limit: most resting orders, every minute
                price = self._bar_price(entry, bar)
                if price is not None:
                    budget -= self._fill(entry, budget, price, max(stamp, entry.submitted_at))
            self._liquidity[symbol] = budget
            self._last[symbol] = bar.close
        self._deliver()

    def end_session(self, now: datetime) -> builtins.list[BrokerOrder]:
        """Expire every open `day` order (keeping fills, emitting `expired`) and close equity
        liquidity until the next bar; returns the expired orders."""
        expired = []
        for entry in self._book.open_orders():
            if entry.time_in_force is TimeInForce.DAY:
                self._close(entry, OrderStatus.EXPIRED, TradeEvent.EXPIRED, now)
                expired.append(entry.snapshot())
        self._liquidity = {s: q for s, q in self._liquidity.items() if is_crypto(s)}
        self._deliver()
        return expired

    def set_price(self, symbol: str, price: Decimal, liquidity: Decimal | None = None) -> None:
        """Set the last price of `symbol`; with `liquidity`, also the quantity marketable
        orders may take before the next bar (tests and the HTTP facade use this)."""
        if symbol not in self._symbols:
            raise ValueError(f"unknown symbol {symbol}")
        if price <= 0:
            raise ValueError(f"price must be positive, got {price}")
        self._last[symbol] = price
        if liquidity is not None:
            self._liquidity[symbol] = liquidity

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price of `symbol` (latest bar close or `set_price`), None before any."""
        return self._last.get(symbol)

    def sync(self) -> None:
        """Make every command so far durable: nothing to do for an engine kept in memory."""

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback` synchronously with every TradeUpdate; returns the unsubscribe."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    @property
    def executions(self) -> builtins.list[Execution]:
        """Every execution so far, in the order they happened (a copy)."""
        return builtins.list(self._executions)

    def account(self) -> AccountSnapshot:
        """Cash, buying power and positions now."""
        positions = {
            symbol: Position(symbol, qty, avg, self._last.get(symbol))
            for symbol, (qty, avg) in self._account.holdings().items()
        }
        return AccountSnapshot(
            cash=self._account.cash, buying_power=self._buying_power(), positions=positions
        )

    def position(self, symbol: str) -> Position | None:
        """The position in `symbol`, None when flat."""
        return self.account().positions.get(symbol)

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _buying_power(self) -> Decimal:
        return self._account.cash - self._reserved

    def _reservation(self, entry: BookEntry) -> Decimal:
        """Cash an open buy holds back (kept as a running total: a submit must not scan the
        whole book)."""
        return entry.remaining * entry.reserve_price if entry.side is Side.BUY else ZERO

    def _admit(self, request: OrderRequest, client_order_id: str) -> Decimal:
        """Check an order as Alpaca would; return the price its buying-power reservation uses."""
        symbol = request.symbol
        check_request(request, client_order_id, self._symbols)
        if self._book.knows_client_id(client_order_id):
            raise OrderRejected("client_order_id must be unique")
        if request.order_type is OrderType.LIMIT and request.limit_price is not None:
            reserve_price = request.limit_price
        else:
            last = self._last.get(symbol)
            if last is None:
                raise OrderRejected(f"no market price for {symbol} yet")
            reserve_price = quote(symbol, last, request.side, self._half_spread_bps)
        if request.side is Side.BUY:
            cost = request.qty * reserve_price
            available = self._buying_power()
            if cost > available:
                raise OrderRejected(
                    f"insufficient buying power (required {cost:f}, available {available:f})"
                )
        elif is_crypto(symbol):
            held = self._account.qty(symbol) - sum(
                (e.remaining for e in self._book.open_orders(symbol) if e.side is Side.SELL),
                ZERO,
            )
            if request.qty > held:
                raise OrderRejected(
                    f"insufficient balance for {symbol} (requested {request.qty:f}, "
                    f"available {held:f})"
                )
        return reserve_price

    def _match_now(self, entry: BookEntry, now: datetime) -> None:
        """Fill a fresh order against the current minute's remaining budget; end ioc/fok."""
        price = self._immediate_price(entry)
        budget = self._liquidity.get(entry.symbol, ZERO)
        # fok trades only if the whole quantity is there at once
        all_or_none = entry.time_in_force is TimeInForce.FOK
        if price is not None and budget > 0 and (not all_or_none or entry.qty <= budget):
            self._liquidity[entry.symbol] = budget - self._fill(entry, budget, price, now)
        if entry.is_open and entry.time_in_force in _IMMEDIATE_TIFS:
            self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)

    def _immediate_price(self, entry: BookEntry) -> Decimal | None:
        """The price a new order trades at now, None if it is not marketable (or no price)."""
        last = self._last.get(entry.symbol)
        if last is None:
            return None
        price = quote(entry.symbol, last, entry.side, self._half_spread_bps)
        return price if self._within_limit(entry, price) else None

    def _bar_price(self, entry: BookEntry, bar: Bar) -> Decimal | None:
        """The price a resting order trades at in `bar`, None if the bar never reached it."""
        if entry.order_type is OrderType.MARKET:
            return quote(entry.symbol, bar.open, entry.side, self._half_spread_bps)
        limit = entry.limit_price
        assert limit is not None  # admitted limit orders always carry one
        open_price = round_to_tick(entry.symbol, bar.open)
        if entry.side is Side.BUY:
            # opening through the limit improves the price: the buyer gets the open
            return min(limit, open_price) if bar.low <= limit else None
        return max(limit, open_price) if bar.high >= limit else None

    @staticmethod
    def _within_limit(entry: BookEntry, price: Decimal) -> bool:
        if entry.limit_price is None:
            return True
        if entry.side is Side.BUY:
            return price <= entry.limit_price
        return price >= entry.limit_price

    @staticmethod
    def _whole(entry: BookEntry) -> bool:
        """Whole-share equity orders fill in whole shares; crypto and fractional ones do not."""
        return not is_crypto(entry.symbol) and entry.qty == entry.qty.to_integral_value()

    def _fill(self, entry: BookEntry, budget: Decimal, price: Decimal, at: datetime) -> Decimal:
        """Execute as much of `entry` as `budget` allows at `price`; return the quantity."""
        qty = floor_qty(min(entry.remaining, budget), whole=self._whole(entry))
        if qty <= 0:
            return ZERO
        self._reserved -= self._reservation(entry)
        entry.add_fill(qty, price, at)
        if entry.is_open:
            self._reserved += self._reservation(entry)
        self._account.apply(entry.symbol, entry.side, qty, price)
        execution = Execution(
            execution_id=self._new_id(),
            broker_order_id=entry.broker_order_id,
            client_order_id=entry.client_order_id,
            symbol=entry.symbol,
            side=entry.side,
            qty=qty,
            price=price,
            timestamp=at,
        )
        self._executions.append(execution)
        event = TradeEvent.FILL if entry.status is OrderStatus.FILLED else TradeEvent.PARTIAL_FILL
        self._emit(event, entry, at, execution)
        self._book.settle(entry)
        return qty

    def _close(
        self, entry: BookEntry, status: OrderStatus, event: TradeEvent, now: datetime
    ) -> None:
        if entry.is_open:
            self._reserved -= self._reservation(entry)
        entry.close(status, now)
        self._book.settle(entry)
        self._emit(event, entry, now)

    def _emit(
        self,
        event: TradeEvent,
        entry: BookEntry,
        at: datetime,
        execution: Execution | None = None,
    ) -> None:
        """Queue an event with the order's snapshot as of now; `_deliver` sends it."""
        self._outbox.append(
            TradeUpdate(
                event=event,
                order=entry.snapshot(),
                timestamp=at,
                execution_id=execution.execution_id if execution else None,
                qty=execution.qty if execution else None,
                price=execution.price if execution else None,
            )
        )

    def _deliver(self) -> None:
        """Send queued events in order, once the engine's state is consistent again.

        A listener that calls back into the engine only queues more events; the outer
        delivery loop sends them after the current ones, so every listener sees one order.
        """
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._outbox:
                update = self._outbox.popleft()
                for listener in builtins.list(self._listeners):
                    listener(update)
        finally:
            self._delivering = False
