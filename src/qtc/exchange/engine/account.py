"""The simulated exchange's account: cash and positions moved by executions, and its rules.

Rules, as Alpaca paper applies them, simplified (a cash-secured account, no leverage):

- Shorting is an account setting (`shorting_enabled`, default true as on Alpaca paper). Every
  equity is easy to borrow; crypto is never shortable (a crypto sell is limited to the balance).
- A sell up to the long quantity not already held back by open sells closes (`sell_to_close`);
  the rest opens a short (`sell_to_open`), refused with `insufficient qty available` when
  shorting is off. A buy covers what is short and not already being covered (`buy_to_close`);
  the rest opens or adds to a long (`buy_to_open`).
- Buying power = cash - 2 x |short market value| - open reservations. The first |short value|
  takes the short proceeds back out of cash (they can never be spent); the second is the
  short's margin, 100% of its value. An open order reserves its opening part only: a buy its
  opening quantity left x its reserve price, a short sell its short quantity left x its reserve
  price (held until it fills, then the short value stands for it). Closing parts reserve nothing:
  they free buying power when they fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from qtc.domain.decimals import ZERO, normalize
from qtc.domain.enums import Side
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto
from qtc.exchange.engine.pricing import average


class PositionIntent(StrEnum):
    """What an order does to the position, in Alpaca's `position_intent` spelling."""

    BUY_TO_OPEN = "buy_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_OPEN = "sell_to_open"
    SELL_TO_CLOSE = "sell_to_close"


@dataclass(frozen=True, slots=True)
class Split:
    """An order's quantity split into the part that closes the position and the part that opens."""

    closing: Decimal
    opening: Decimal
    intent: PositionIntent


def split_order(side: Side, qty: Decimal, held: Decimal, open_same_side: Decimal) -> Split:
    """Split `qty` given the position `held` and what open orders on the same side already
    take from it (`open_same_side`, their quantity left)."""
    if side is Side.BUY:
        closable = max(-held - open_same_side, ZERO)
    else:
        closable = max(held - open_same_side, ZERO)
    closing = min(qty, closable)
    opening = qty - closing
    if side is Side.BUY:
        intent = PositionIntent.BUY_TO_CLOSE if closing > 0 else PositionIntent.BUY_TO_OPEN
    else:
        intent = PositionIntent.SELL_TO_CLOSE if closing > 0 else PositionIntent.SELL_TO_OPEN
    return Split(normalize(closing), normalize(opening), intent)


def buying_power(cash: Decimal, short_value: Decimal, reserved: Decimal) -> Decimal:
    """The module's rule: short proceeds taken out, 100% short margin, open reservations."""
    return cash - 2 * abs(short_value) - reserved


@dataclass(slots=True)
class _Holding:
    qty: Decimal = ZERO
    cost: Decimal = ZERO  # qty x average entry price, exact

    @property
    def avg_price(self) -> Decimal:
        return average(self.cost, self.qty) if self.qty else ZERO


class Account:
    """Cash and positions; shorts are negative quantities (equities only, as on Alpaca paper)."""

    def __init__(self, cash: Decimal, *, shorting_enabled: bool = True) -> None:
        self.cash = cash
        self.shorting_enabled = shorting_enabled
        self._holdings: dict[str, _Holding] = {}

    def apply(self, symbol: str, side: Side, qty: Decimal, price: Decimal) -> None:
        """Move cash and the position by one execution."""
        signed = qty if side is Side.BUY else -qty
        self.cash -= signed * price
        holding = self._holdings.setdefault(symbol, _Holding())
        new_qty = holding.qty + signed
        if holding.qty == 0 or (holding.qty > 0) == (signed > 0):
            holding.cost += signed * price  # opening or adding: the average moves
        elif (new_qty > 0) != (holding.qty > 0) and new_qty != 0:
            holding.cost = new_qty * price  # crossed through flat: a new position at this price
        else:
            holding.cost = new_qty * (holding.cost / holding.qty)  # reducing keeps the average
        holding.qty = normalize(new_qty)
        if holding.qty == 0:
            del self._holdings[symbol]

    def admit(
        self,
        symbol: str,
        side: Side,
        qty: Decimal,
        reserve_price: Decimal,
        open_same_side: Decimal,
        available: Decimal,
    ) -> Split:
        """Split an order by the module's rules or raise OrderRejected: a short where none may
        be, or an opening part costing more than the buying power `available`."""
        split = split_order(side, qty, self.qty(symbol), open_same_side)
        if side is Side.SELL and split.opening > 0:
            if is_crypto(symbol):
                raise OrderRejected(
                    f"insufficient balance for {symbol} (requested {qty:f}, "
                    f"available {split.closing:f})"
                )
            if not self.shorting_enabled:
                raise OrderRejected(
                    f"insufficient qty available for order (requested: {qty:f}, "
                    f"available: {split.closing:f})"
                )
        cost = split.opening * reserve_price
        if cost > 0 and cost > available:
            raise OrderRejected(
                f"insufficient buying power (required {cost:f}, available {max(available, ZERO):f})"
            )
        return split

    def qty(self, symbol: str) -> Decimal:
        """Quantity held of `symbol` (0 when flat)."""
        holding = self._holdings.get(symbol)
        return holding.qty if holding else ZERO

    def short_value(self, last: dict[str, Decimal]) -> Decimal:
        """Market value of every short (negative), at `last` prices or the entry price."""
        return sum(
            (h.qty * last.get(s, h.avg_price) for s, h in self._holdings.items() if h.qty < 0),
            ZERO,
        )

    def holdings(self) -> dict[str, tuple[Decimal, Decimal]]:
        """{symbol: (qty, average entry price)} for every non-flat symbol, sorted by symbol."""
        return {s: (h.qty, h.avg_price) for s, h in sorted(self._holdings.items())}
