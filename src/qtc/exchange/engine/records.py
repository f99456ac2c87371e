"""What the simulated exchange reports besides orders: executions and the account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from qtc.domain.enums import Side


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution as the exchange recorded it: the oracle ledgers are compared to."""

    execution_id: str
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """The account's holding in one symbol (negative `qty` is a short)."""

    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    current_price: Decimal | None

    @property
    def market_value(self) -> Decimal | None:
        return None if self.current_price is None else self.qty * self.current_price


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Cash, buying power (the rule in `engine.account`) and positions of the account."""

    cash: Decimal
    buying_power: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    shorting_enabled: bool = True

    @property
    def long_market_value(self) -> Decimal:
        """Value of every long position (at the last price, else the entry price)."""
        return sum((_value(p) for p in self.positions.values() if p.qty > 0), Decimal(0))

    @property
    def short_market_value(self) -> Decimal:
        """Value of every short position: negative, as Alpaca reports it."""
        return sum((_value(p) for p in self.positions.values() if p.qty < 0), Decimal(0))

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long_market_value + self.short_market_value


def _value(position: Position) -> Decimal:
    value = position.market_value
    return value if value is not None else position.qty * position.avg_entry_price
