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
    """Cash, buying power (cash minus open buy reservations) and positions of the account."""

    cash: Decimal
    buying_power: Decimal
    positions: dict[str, Position] = field(default_factory=dict)

    @property
    def equity(self) -> Decimal:
        held = sum(
            (p.market_value or p.qty * p.avg_entry_price for p in self.positions.values()),
            Decimal(0),
        )
        return self.cash + held
