"""The simulated exchange's account: cash and positions, moved by executions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qtc.domain.decimals import ZERO, normalize
from qtc.domain.enums import Side
from qtc.exchange.engine.pricing import average


@dataclass(slots=True)
class _Holding:
    qty: Decimal = ZERO
    cost: Decimal = ZERO  # qty x average entry price, exact

    @property
    def avg_price(self) -> Decimal:
        return average(self.cost, self.qty) if self.qty else ZERO


class Account:
    """Cash and positions; shorts are negative quantities (equities only, as on Alpaca paper)."""

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
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

    def qty(self, symbol: str) -> Decimal:
        """Quantity held of `symbol` (0 when flat)."""
        holding = self._holdings.get(symbol)
        return holding.qty if holding else ZERO

    def holdings(self) -> dict[str, tuple[Decimal, Decimal]]:
        """{symbol: (qty, average entry price)} for every non-flat symbol, sorted by symbol."""
        return {s: (h.qty, h.avg_price) for s, h in sorted(self._holdings.items())}
