"""Fills derived from cumulative quantities: the one rule that makes duplicates harmless."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from qtc.domain.decimals import ZERO, dec_str, normalize
from qtc.domain.enums import Side

_PRICE_QUANTUM = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of an order, as booked in the ledger."""

    order_id: str
    execution_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    timestamp: datetime
    cum_filled_qty: Decimal  # the order's cumulative filled quantity after this fill

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class HeldFills:
    """What the ledger already holds for one order: cumulative quantity and notional."""

    qty: Decimal = ZERO
    notional: Decimal = ZERO


def synthetic_execution_id(order_id: str, cum_qty: Decimal) -> str:
    """A stable id for a fill learned by polling: the same poll replayed gives the same id."""
    return f"{order_id}@{dec_str(cum_qty)}"


def derive_fill(
    *,
    order_id: str,
    symbol: str,
    side: Side,
    held: HeldFills,
    cum_qty: Decimal,
    avg_price: Decimal | None,
    timestamp: datetime,
    execution_id: str | None = None,
    event_qty: Decimal | None = None,
    event_price: Decimal | None = None,
) -> Fill | None:
    """The fill that takes the ledger from `held` to the broker's cumulative `cum_qty`.

    None when the broker reports nothing new. The price is the one that makes the running
    average come out right; a stream event whose own qty matches the increase gives its own
    price and execution id.
    """
    increase = cum_qty - held.qty
    if increase <= 0:
        return None
    if event_qty is not None and event_price is not None and event_qty == increase:
        price = event_price
        exec_id = execution_id or synthetic_execution_id(order_id, cum_qty)
    else:
        if avg_price is None or avg_price <= 0:
            if event_price is None:
                return None
            avg_price = event_price
        price = (cum_qty * avg_price - held.notional) / increase
        price = price.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
        if price <= 0:
            # the broker's average was rounded below what we hold: its average is the best guess
            price = avg_price
        exec_id = synthetic_execution_id(order_id, cum_qty)
    return Fill(
        order_id=order_id,
        execution_id=exec_id,
        symbol=symbol,
        side=side,
        qty=normalize(increase),
        price=normalize(price),
        timestamp=timestamp,
        cum_filled_qty=normalize(cum_qty),
    )
