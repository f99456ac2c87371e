"""A team's portfolio: a fold over its fills, plus what its open orders reserve."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Protocol

from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderStatus, OrderType, Side
from qtc.domain.fills import Fill
from qtc.domain.orders import Order

DEFAULT_MARKET_MARGIN = Decimal("0.05")
_BOOK_PRECISION = 60
# the cost taken off a position by a partial close is rounded here; the remainder stays on it
_COST_QUANTUM = Decimal("0.000000001")


@dataclass(slots=True)
class Position:
    """Signed quantity (negative is short) and the signed cost of the open quantity.

    The cost is kept as a sum, never as an average, so that cash + cost - realized P&L stays
    exactly the initial cash; the average is derived for display.
    """

    quantity: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def avg_cost(self) -> Decimal:
        return self.cost / self.quantity if self.quantity else ZERO

    @property
    def cost_basis(self) -> Decimal:
        return self.cost


@dataclass(frozen=True, slots=True)
class Reservations:
    """Cash held back by open buys and shares held back by open sells."""

    cash: Decimal = ZERO
    shares: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(slots=True)
class Portfolio:
    """Cash and positions of one team, moved only by fills."""

    initial_cash: Decimal
    cash: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    realized_pnl: Decimal = ZERO
    fill_count: int = 0

    @classmethod
    def new(cls, initial_cash: Decimal) -> Portfolio:
        return cls(initial_cash=initial_cash, cash=initial_cash)

    @classmethod
    def replay(cls, initial_cash: Decimal, fills: Iterable[Fill]) -> Portfolio:
        """The portfolio is a fold over the ledger."""
        portfolio = cls.new(initial_cash)
        for fill in fills:
            portfolio.apply_fill(fill)
        return portfolio

    def apply_fill(self, fill: Fill) -> None:
        """Move cash and the position by one execution at its real price."""
        self.apply(fill.symbol, fill.side, fill.qty, fill.price)

    def apply(self, symbol: str, side: Side, qty: Decimal, price: Decimal) -> None:
        """Move cash, the position and realized P&L by one execution of `qty` at `price`."""
        # wide precision so that sums of money never round: the books must balance exactly
        with localcontext(prec=_BOOK_PRECISION):
            signed = qty if side is Side.BUY else -qty
            self.cash -= signed * price
            self.fill_count += 1
            pos = self.positions.setdefault(symbol, Position())
            old = pos.quantity
            new = old + signed
            if old == 0 or (old > 0) == (signed > 0):
                # opening or adding
                pos.cost += signed * price
            else:
                closed = min(abs(signed), abs(old))
                direction = Decimal(1) if old > 0 else Decimal(-1)
                if closed == abs(old):
                    removed = pos.cost
                else:
                    removed = (pos.cost * closed / abs(old)).quantize(_COST_QUANTUM)
                self.realized_pnl += direction * closed * price - removed
                pos.cost -= removed
                if (new > 0) != (old > 0) and new != 0:
                    # crossed through zero: the remainder opens at this price
                    pos.cost = new * price
            pos.quantity = new
            if new == 0:
                del self.positions[symbol]

    def quantity(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.quantity if pos else ZERO

    def cost_basis(self) -> Decimal:
        """Signed cost of every open position, summed without rounding."""
        with localcontext(prec=_BOOK_PRECISION):
            return sum((p.cost_basis for p in self.positions.values()), ZERO)

    def equity(self, prices: Mapping[str, Decimal]) -> Decimal:
        """Cash plus positions at `prices` (at cost where a price is unknown)."""
        return self.cash + self.positions_value(prices)

    def positions_value(self, prices: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (p.quantity * prices[s] if s in prices else p.cost for s, p in self.positions.items()),
            ZERO,
        )

    def unrealized_pnl(self, prices: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (p.quantity * prices[s] - p.cost for s, p in self.positions.items() if s in prices),
            ZERO,
        )


class PricedOrder(Protocol):
    """What the reservation of a buy depends on (an order, or the intent for one)."""

    @property
    def order_type(self) -> OrderType: ...
    @property
    def limit_price(self) -> Decimal | None: ...
    @property
    def stop_price(self) -> Decimal | None: ...
    @property
    def trail_price(self) -> Decimal | None: ...
    @property
    def trail_percent(self) -> Decimal | None: ...


def buy_reserve_price(order: PricedOrder, last: Decimal, market_margin: Decimal) -> Decimal:
    """The price a buy holds cash at: its limit when it has one (limit, stop_limit); else the
    highest price it may trigger at (a stop's stop, a trailing stop's last price plus its
    trail, the last price for a market order, whichever is higher) plus the market margin."""
    if order.order_type.has_limit and order.limit_price is not None:
        return order.limit_price
    price = last
    if order.order_type is OrderType.STOP and order.stop_price is not None:
        price = max(last, order.stop_price)
    elif order.order_type is OrderType.TRAILING_STOP:
        if order.trail_price is not None:
            price = last + order.trail_price
        elif order.trail_percent is not None:
            price = last * (1 + order.trail_percent / 100)
    return price * (1 + market_margin)


def reservations(
    open_orders: Iterable[Order],
    prices: Mapping[str, Decimal],
    market_margin: Decimal = DEFAULT_MARKET_MARGIN,
) -> Reservations:
    """What open orders hold back: remaining qty x `buy_reserve_price` for buys, remaining
    shares for sells.

    A bracket, OCO or OTO group reserves once: the entry while it is open (its exits are held),
    then one open exit (the exits close the same position, and the first fill cancels the
    other)."""
    cash = ZERO
    shares: dict[str, Decimal] = {}
    orders = list(open_orders)
    open_ids = {o.order_id for o in orders}
    exits_counted: set[str] = set()
    for order in orders:
        remaining = order.remaining_qty
        if remaining <= 0:
            continue
        if order.parent_id is not None:
            if order.status is OrderStatus.HELD or order.parent_id in open_ids:
                continue  # the entry (or the OCO's other exit) holds what this exit needs
            if order.parent_id in exits_counted:
                continue
            exits_counted.add(order.parent_id)
        if order.side is Side.BUY:
            last = prices.get(order.symbol, order.requested_price)
            held = remaining * buy_reserve_price(order, last, market_margin)
            if order.notional is not None:  # a notional buy spends its amount, never more
                spent = order.filled_qty * (order.filled_avg_price or ZERO)
                held = min(held, max(order.notional - spent, ZERO))
            cash += held
        else:
            shares[order.symbol] = shares.get(order.symbol, ZERO) + remaining
    return Reservations(cash=cash, shares=shares)


def free_cash(portfolio: Portfolio, reserved: Reservations) -> Decimal:
    return portfolio.cash - reserved.cash


def free_shares(portfolio: Portfolio, reserved: Reservations, symbol: str) -> Decimal:
    return portfolio.quantity(symbol) - reserved.shares.get(symbol, ZERO)
