"""The simulated exchange's matching engine: synchronous, deterministic, no I/O.

Timing model (the contract the driver, the broker and the HTTP facade rely on):

- `on_minute(minute, bars)` is called once the bar of `minute` is complete (the driver calls it
  as the clock passes `minute + 1`). Resting orders match against that bar (below); then
  the last price of each symbol is the bar's close and what is left of the bar's volume budget
  (`participation` x volume) is available to orders submitted before the next `on_minute`.
- `submit` fills a marketable order at once against that remaining budget, at the last price
  plus (buy) or minus (sell) the half-spread; its events are emitted before `submit` returns.
- `end_session(now)` is explicit: it fills `cls` orders at the last price (the session's last
  bar's close, against what is left of that bar's budget; the rest expires), expires every open
  `day` order (keeping its fills) and closes equity liquidity until the next bar. The driver
  calls it right after the session's last bar. The next bar of an equity opens a session: `opg`
  orders submitted before it trade at its open (or their limit) and expire unfilled.
- Resting orders trade on the bar's path (see triggers.py), in the order the path reaches them
  (oldest first at the same point), each against what is left of the bar's volume budget. Stops
  the path triggers stay triggered (as market or limit orders) when the budget ran out. Legs a
  fill releases (bracket, oto) start working from the next bar.
- `replace` ends the old order `replaced` (keeping its fills) and accepts a new one in its place.
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
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import OrderNotCancelable, OrderRejected
from qtc.domain.market import Bar, is_crypto
from qtc.domain.orders import BrokerOrder, OrderRequest, ReplaceRequest, TradeUpdate
from qtc.domain.times import MINUTE
from qtc.exchange.engine.account import Account, PositionIntent, Split, buying_power, split_order
from qtc.exchange.engine.admission import (
    AUCTION_TIFS,
    IMMEDIATE_TIFS,
    check_base_price,
    check_request,
)
from qtc.exchange.engine.book import BookEntry, ExchangeOrders, entry_from
from qtc.exchange.engine.closed_market import ClosedMarketQueue, Sessions
from qtc.exchange.engine.legs import build_legs, is_entry, leg_of, others
from qtc.exchange.engine.notional import sized
from qtc.exchange.engine.outbox import Listener, Outbox
from qtc.exchange.engine.pricing import floor_qty, quote
from qtc.exchange.engine.records import AccountSnapshot, Execution, Position
from qtc.exchange.engine.replacing import replacement_request, take_over
from qtc.exchange.engine.triggers import (
    Touch,
    auction_price,
    bar_path,
    crossed,
    set_mark,
    touch,
    untouched_trailing,
    within_limit,
)

ListStatus = Literal["open", "closed", "all"]
Direction = Literal["asc", "desc"]

__all__ = [
    "AccountSnapshot",
    "Direction",
    "ExchangeEngine",
    "Execution",
    "ListStatus",
    "Listener",
    "Position",
]

_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


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
        self._outbox = Outbox()
        self._seq = 0
        self._reserved = ZERO  # buying power held back by open orders' opening parts
        self._splits: dict[str, Split] = {}  # broker order id -> its closing/opening parts
        self._closed_market = ClosedMarketQueue(sessions)
        self._in_session: set[str] = set()  # symbols whose session's first bar has come
        self._released: builtins.list[BookEntry] = []  # legs to match once a command is done

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol the exchange trades."""
        return self._symbols

    def submit(self, request: OrderRequest, now: datetime) -> BrokerOrder:
        """Accept an order (emitting `new`, and fills if it is marketable now) or raise
        OrderRejected(reason). Returns the order as it stands after any immediate fills."""
        client_order_id = request.client_order_id or self._new_id()
        if request.notional is not None:
            request = sized(request, self._last.get(request.symbol), self._half_spread_bps)
        self._release_queued(now)
        queued = not self._closed_market.is_open(request.symbol, now)
        if queued:
            self._closed_market.check(request)
        reserve_price, split = self._admit(request, client_order_id)
        check_base_price(request, self._last.get(request.symbol))
        entry = self._entry(request, client_order_id, reserve_price, now)
        self._splits[entry.broker_order_id] = split
        legs = build_legs(request, entry, lambda **fields: self._leg(entry, **fields))
        self._book.add(entry)
        for leg in legs:
            self._book.add(leg)
        self._reserved += self._reservation(entry)
        working = [entry, *(leg for leg in legs if leg.status is OrderStatus.NEW)]
        if queued:  # announced `new` when the market opens
            for order in working:
                self._closed_market.hold(order)
            self._deliver()
            return entry.snapshot()
        for order in working:
            self._emit(TradeEvent.NEW, order, now)
        for order in working:
            self._match_now(order, now)
        self._settle_command(now)
        return entry.snapshot()

    def replace(self, broker_order_id: str, request: ReplaceRequest, now: datetime) -> BrokerOrder:
        """Replace an open order (simple, or a leg) by a new one; returns the new order.

        The old order keeps its fills and ends `replaced` (`replaced_by` the new id); the new
        one starts unfilled with the requested qty (default: what the old had left) and
        `replaces` the old id. Emits `replaced` on the old order, then `new` on the new one.
        OrderNotFound if unknown; OrderNotCancelable(msg, status) if already closed, as
        `cancel`; OrderRejected(reason) if it is held, a group's parent, or the change is
        refused (the old order then stays as it was)."""
        old = self._book.get(broker_order_id)
        if not old.is_open:
            raise OrderNotCancelable(f"order {broker_order_id} is already {old.status}", old.status)
        if old.status is OrderStatus.HELD:
            raise OrderRejected("order is held and cannot be replaced until it is active")
        if old.legs:
            raise OrderRejected(f"the parent of an {old.order_class} order cannot be replaced")
        new_request = replacement_request(old, request, request.client_order_id or self._new_id())
        cid = new_request.client_order_id
        self._reserved -= self._reservation(old)
        try:
            if old.parent is None:
                reserve_price, split = self._admit(new_request, cid)
            else:  # a leg is an exit of the group: it reserves nothing, as when it was placed
                check_request(new_request, cid, self._symbols)
                if self._book.knows_client_id(cid):
                    raise OrderRejected("client_order_id must be unique")
                reserve_price = ZERO
        finally:
            self._reserved += self._reservation(old)
        new = self._entry(new_request, cid, reserve_price, now)
        if old.parent is None:
            self._splits[new.broker_order_id] = split
        take_over(old, new, request)
        self._close(old, OrderStatus.REPLACED, TradeEvent.REPLACED, now)
        self._book.add(new)
        self._reserved += self._reservation(new)
        self._emit(TradeEvent.NEW, new, now)
        self._match_now(new, now)
        self._settle_command(now)
        return new.snapshot()

    def cancel(self, broker_order_id: str, now: datetime) -> BrokerOrder:
        """Cancel an open order, keeping what filled; emits `canceled`.

        OrderNotFound if unknown; OrderNotCancelable(msg, status) if already closed."""
        entry = self._book.get(broker_order_id)
        if not entry.is_open:
            raise OrderNotCancelable(
                f"order {broker_order_id} is already {entry.status}", entry.status
            )
        self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
        for other in others(entry):  # canceling one of an oco pair cancels the pair
            self._close(other, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
        self._settle_command(now)
        return entry.snapshot()

    def cancel_all(self, now: datetime) -> builtins.list[BrokerOrder]:
        """Cancel every open order, oldest first; returns the canceled orders."""
        canceled = []
        for entry in self._book.open_orders():
            if entry.is_open:  # a group's order may have ended with an earlier one
                self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
                canceled.append(entry.snapshot())
        for leg in self._released:  # legs a partly filled entry released: canceled as well
            if leg.is_open:
                self._close(leg, OrderStatus.CANCELED, TradeEvent.CANCELED, now)
                canceled.append(leg.snapshot())
        self._released.clear()
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
            if symbol not in self._in_session:
                self._in_session.add(symbol)
                budget = self._open_auction(bar, budget, bar_end, stamp)
            budget = self._match_bar(bar, budget, bar_end, stamp)
            self._liquidity[symbol] = budget
            self._last[symbol] = bar.close
        self._released.clear()  # released legs work from the next bar
        self._deliver()

    def end_session(self, now: datetime) -> builtins.list[BrokerOrder]:
        """Fill `cls` orders at the last price, expire them and every open `day` order (keeping
        fills, emitting `expired`), and close equity liquidity until the next bar (the next
        bar opens a session); returns the expired orders."""
        expired = self._close_auction(now)
        for entry in self._book.open_orders():
            # an `accepted` order was sent after the close: its day is the next session
            if (
                entry.is_open
                and entry.time_in_force is TimeInForce.DAY
                and entry.status is not OrderStatus.ACCEPTED
            ):
                self._close(entry, OrderStatus.EXPIRED, TradeEvent.EXPIRED, now)
                expired.append(entry.snapshot())
        self._released.clear()
        self._liquidity = {s: q for s, q in self._liquidity.items() if is_crypto(s)}
        self._in_session = {s for s in self._in_session if is_crypto(s)}
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
        return self._outbox.subscribe(callback)

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
        """What the order does to the position, as decided when it was accepted (a leg of a
        bracket, OCO or OTO closes the position its entry opened)."""
        split = self._splits.get(broker_order_id)
        if split is not None:
            return split.intent
        side = self._book.get(broker_order_id).side
        return PositionIntent.BUY_TO_CLOSE if side is Side.BUY else PositionIntent.SELL_TO_CLOSE

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
        reserve_price = self._reserve_price(request)
        held = self._account.qty(symbol)
        reducing = held < 0 if request.side is Side.BUY else held > 0
        # only an order that reduces the position needs to know what open orders already take
        open_same_side = self._open_qty(symbol, request.side) if reducing else ZERO
        split = self._account.admit(
            symbol, request.side, request.qty, reserve_price, open_same_side, self._buying_power()
        )
        return reserve_price, split

    def _entry(
        self, request: OrderRequest, client_order_id: str, reserve_price: Decimal, now: datetime
    ) -> BookEntry:
        self._seq += 1
        return entry_from(request, self._seq, self._new_id(), client_order_id, reserve_price, now)

    def _leg(self, parent: BookEntry, **fields: Any) -> BookEntry:
        self._seq += 1
        return leg_of(parent, self._seq, self._new_id(), self._new_id(), **fields)

    def _reserve_price(self, request: OrderRequest) -> Decimal:
        """The price an order's cash reservation uses: its limit, else the quote at its stop
        (where it becomes a market order) or at the last price, whichever is higher; a
        trailing buy, the quote at its first stop."""
        symbol, side, spread = request.symbol, request.side, self._half_spread_bps
        if request.order_type.has_limit and request.limit_price is not None:
            return request.limit_price
        last = self._last.get(symbol)
        if request.order_type is OrderType.STOP and request.stop_price is not None:
            stop = quote(symbol, request.stop_price, side, spread)
            return stop if last is None else max(stop, quote(symbol, last, side, spread))
        if last is None:
            raise OrderRejected(f"no market price for {symbol} yet")
        if request.order_type is OrderType.TRAILING_STOP and side is Side.BUY:
            if request.trail_price is not None:
                last += request.trail_price
            elif request.trail_percent is not None:
                last += last * request.trail_percent / 100
        return quote(symbol, last, side, spread)

    def _settle_command(self, now: datetime) -> None:
        """Let the legs a command released trade at once if they can, then send the events."""
        while self._released:
            self._match_now(self._released.pop(0), now)
        self._deliver()

    def _match_now(self, entry: BookEntry, now: datetime) -> None:
        """Fill a fresh order against the current minute's remaining budget; end ioc/fok.

        A stop the last price already crossed triggers at once (a trailing stop's mark starts
        at the last price); an untriggered stop, a held leg and an auction order only rest."""
        if not entry.is_open or entry.status is OrderStatus.HELD:
            return
        if entry.time_in_force in AUCTION_TIFS:
            return
        last = self._last.get(entry.symbol)
        if entry.order_type in _STOP_TYPES and not entry.triggered:
            if last is None:
                return
            if entry.order_type is OrderType.TRAILING_STOP:
                set_mark(entry, last)  # a new order's mark starts at the last price
            if entry.stop_price is not None and crossed(entry.side, entry.stop_price, last):
                entry.triggered = True
                self._book.settle(entry)
            if not entry.triggered:
                return
        price = self._immediate_price(entry)
        budget = self._liquidity.get(entry.symbol, ZERO)
        # fok trades only if the whole quantity is there at once
        all_or_none = entry.time_in_force is TimeInForce.FOK
        if price is not None and budget > 0 and (not all_or_none or entry.qty <= budget):
            self._liquidity[entry.symbol] = budget - self._fill(entry, budget, price, now)
        if entry.is_open and entry.time_in_force in IMMEDIATE_TIFS:
            self._close(entry, OrderStatus.CANCELED, TradeEvent.CANCELED, now)

    def _immediate_price(self, entry: BookEntry) -> Decimal | None:
        """The price a new order trades at now, None if it is not marketable (or no price)."""
        last = self._last.get(entry.symbol)
        if last is None:
            return None
        price = quote(entry.symbol, last, entry.side, self._half_spread_bps)
        return price if within_limit(entry, price) else None

    def _match_bar(self, bar: Bar, budget: Decimal, bar_end: datetime, stamp: datetime) -> Decimal:
        """Trade the orders `bar`'s path reaches, in the order it reaches them; return what is
        left of the budget. Only indexed candidates are visited (see index.py)."""
        symbol = bar.symbol
        path = bar_path(bar)
        low, high = bar.low, bar.high
        visited = [
            e
            for e in self._book.index.trailing(symbol)
            if not untouched_trailing(e, low, high) and e.submitted_at < bar_end
        ]
        visited.extend(
            e  # an order that came after this bar may only trade later bars
            for e in self._book.index.reached(symbol, low, high)
            if e.submitted_at < bar_end
        )
        hits: builtins.list[tuple[Touch, BookEntry]] = []
        for entry in visited:
            hit = touch(entry, path)
            if hit is not None:
                hits.append((hit, entry))
        hits.sort(key=lambda h: (h[0].at, h[1].seq))
        for hit, entry in hits:
            if not entry.is_open or budget <= 0:
                continue  # the other of an oco pair executed first, or the bar is used up
            price = hit.price
            if hit.market:
                price = quote(symbol, price, entry.side, self._half_spread_bps)
            budget -= self._fill(entry, budget, price, max(stamp, entry.submitted_at))
        for entry in visited:
            if entry.triggered:
                self._book.settle(entry)  # triggered stops move to where they now trade
        return budget

    def _open_auction(
        self, bar: Bar, budget: Decimal, bar_end: datetime, stamp: datetime
    ) -> Decimal:
        """The session's first bar: opg orders trade at its open (or not past their limit)
        and what they did not fill expires."""
        waiting = self._book.index.auction(bar.symbol, TimeInForce.OPG)
        for entry in sorted(waiting, key=lambda e: e.seq):
            if entry.submitted_at >= bar_end:
                continue
            entry.opened = True
            price = auction_price(entry, bar.open, self._half_spread_bps)
            if price is not None and budget > 0:
                budget -= self._fill(entry, budget, price, max(stamp, entry.submitted_at))
            if entry.is_open:
                self._close(entry, OrderStatus.EXPIRED, TradeEvent.EXPIRED, stamp)
        return budget

    def _close_auction(self, now: datetime) -> builtins.list[BrokerOrder]:
        """The session's end: cls orders trade at the last price against what is left of the
        last bar's budget, and what they did not fill expires; returns the expired ones."""
        expired = []
        for symbol in sorted(self._book.index.auction_symbols()):
            waiting = self._book.index.auction(symbol, TimeInForce.CLS)
            last = self._last.get(symbol)
            for entry in sorted(waiting, key=lambda e: e.seq):
                budget = self._liquidity.get(symbol, ZERO)
                price = None if last is None else auction_price(entry, last, None)
                if price is not None and budget > 0:
                    self._liquidity[symbol] = budget - self._fill(entry, budget, price, now)
                if entry.is_open:
                    self._close(entry, OrderStatus.EXPIRED, TradeEvent.EXPIRED, now)
                    expired.append(entry.snapshot())
        return expired

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
        for other in others(entry):  # one execution of an oco pair cancels the other
            self._close(other, OrderStatus.CANCELED, TradeEvent.CANCELED, at)
        if is_entry(entry) and entry.status is OrderStatus.FILLED:
            self._release(entry, at)
        return qty

    def _close(
        self, entry: BookEntry, status: OrderStatus, event: TradeEvent, now: datetime
    ) -> None:
        if entry.is_open:
            self._reserved -= self._reservation(entry)
        entry.close(status, now)
        self._book.settle(entry)
        self._emit(event, entry, now)
        if is_entry(entry) and status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
            self._release(entry, now)

    def _release(self, entry: BookEntry, at: datetime) -> None:
        """An entry that filled or ended: its held legs work for the filled quantity, or are
        canceled when nothing filled (Alpaca's bracket and oto rules)."""
        for leg in entry.legs:
            if leg.status is not OrderStatus.HELD:
                continue
            if entry.filled_qty <= 0:
                self._close(leg, OrderStatus.CANCELED, TradeEvent.CANCELED, at)
                continue
            leg.qty = entry.filled_qty
            leg.status = OrderStatus.NEW
            leg.updated_at = max(leg.updated_at, at)
            self._book.settle(leg)
            self._emit(TradeEvent.NEW, leg, at)
            self._released.append(leg)

    def _emit(
        self,
        event: TradeEvent,
        entry: BookEntry,
        at: datetime,
        execution: Execution | None = None,
    ) -> None:
        """Queue an event with the order's snapshot as of now; `_deliver` sends it."""
        self._outbox.push(
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
        self._outbox.deliver()
