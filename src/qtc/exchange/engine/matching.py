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
- With a `sessions` calendar, an equity order submitted while its market is closed is
  `accepted` and queued, with no event; at the first bar of its session (`on_minute`), or at a
  submit once the market is open, it becomes `new` (the `new` event is sent then) and matches
  from that bar on. Without a calendar the market is always open.
- Account rules (shorting, buying power, position intent): see `qtc.exchange.engine.account`.
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
from qtc.exchange.engine.account import Account, PositionIntent, Split, buying_power, split_order
from qtc.exchange.engine.admission import check_request
from qtc.exchange.engine.book import BookEntry, ExchangeOrders
from qtc.exchange.engine.closed_market import ClosedMarketQueue, Sessions
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
        sessions: Sessions | None = None,
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
        self._reserved = ZERO  # buying power held back by open orders' opening parts
        self._splits: dict[str, Split] = {}  # broker order id -> its closing/opening parts
        self._closed_market = ClosedMarketQueue(sessions)

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol the exchange trades."""
        return self._symbols

    def submit(self, request: OrderRequest, now: datetime) -> BrokerOrder:
        """Accept an order (emitting `new`, and fills if it is marketable now) or raise
        OrderRejected(reason). Returns the order as it stands after any immediate fills."""
        client_order_id = request.client_order_id or self._new_id()
        self._release_queued(now)
        queued = not self._closed_market.is_open(request.symbol, now)
        if queued:
            self._closed_market.check(request)
        reserve_price, split = self._admit(request, client_order_id)
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
        self._splits[entry.broker_order_id] = split
        if queued:
            self._closed_market.hold(entry)
        self._book.add(entry)
        self._reserved += self._reservation(entry)
        if not queued:
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
        self._release_queued(minute)
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
            # an `accepted` order was sent after the close: its day is the next session
            if entry.time_in_force is TimeInForce.DAY and entry.status is not OrderStatus.ACCEPTED:
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
        """Cash, buying power (never below 0, as Alpaca shows it) and positions now."""
        positions = {
            symbol: Position(symbol, qty, avg, self._last.get(symbol))
            for symbol, (qty, avg) in self._account.holdings().items()
        }
        return AccountSnapshot(
            cash=self._account.cash,
            buying_power=max(self._buying_power(), ZERO),
            positions=positions,
            shorting_enabled=self._account.shorting_enabled,
        )

    @property
    def shorting_enabled(self) -> bool:
        """Whether a sell may open a short (equities only; see `engine.account`)."""
        return self._account.shorting_enabled

    def set_shorting(self, enabled: bool) -> None:
        """Allow or forbid sells that open a short (Alpaca's `no_shorting` is the opposite)."""
        self._account.shorting_enabled = enabled

    def position_intent(self, broker_order_id: str) -> PositionIntent:
        """What the order does to the position, as decided when it was accepted."""
        return self._splits[broker_order_id].intent

    def closable_qty(self, symbol: str) -> Decimal:
        """How much of the position in `symbol` open orders do not already take (unsigned)."""
        held = self._account.qty(symbol)
        side = Side.SELL if held > 0 else Side.BUY
        return split_order(side, abs(held), held, self._open_qty(symbol, side)).closing

    def position(self, symbol: str) -> Position | None:
        """The position in `symbol`, None when flat."""
        return self.account().positions.get(symbol)

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _buying_power(self) -> Decimal:
        short_value = self._account.short_value(self._last)
        return buying_power(self._account.cash, short_value, self._reserved)

    def _reservation(self, entry: BookEntry) -> Decimal:
        """Buying power an open order holds back: its opening part left x its reserve price
        (kept as a running total: a submit must not scan the whole book). The closing part
        fills first."""
        split = self._splits.get(entry.broker_order_id)
        opening = min(entry.remaining, split.opening) if split is not None else ZERO
        return opening * entry.reserve_price if opening > 0 else ZERO

    def _open_qty(self, symbol: str, side: Side) -> Decimal:
        return sum((e.remaining for e in self._book.open_orders(symbol) if e.side is side), ZERO)

    def _release_queued(self, now: datetime) -> None:
        """Orders queued while closed whose market is open at `now` become `new`."""
        for entry in self._closed_market.release(now):
            self._emit(TradeEvent.NEW, entry, now)

    def _admit(self, request: OrderRequest, client_order_id: str) -> tuple[Decimal, Split]:
        """Check an order as Alpaca would; return the price its reservation uses and how its
        quantity splits into closing and opening parts (rules in `engine.account`)."""
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
        held = self._account.qty(symbol)
        reducing = held < 0 if request.side is Side.BUY else held > 0
        # only an order that reduces the position needs to know what open orders already take
        open_same_side = self._open_qty(symbol, request.side) if reducing else ZERO
        split = self._account.admit(
            symbol, request.side, request.qty, reserve_price, open_same_side, self._buying_power()
        )
        return reserve_price, split

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
