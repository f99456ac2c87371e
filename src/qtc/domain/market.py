"""Market data as the domain sees it: minute bars and instruments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

_CENT = Decimal("0.01")
_SUB_PENNY_STOCK = Decimal("0.0001")
_SUB_PENNY_CRYPTO = Decimal("0.000000001")


def is_crypto(symbol: str) -> bool:
    """Crypto pairs are written with a slash (`BTC/USD`) and trade around the clock."""
    return "/" in symbol


def price_tick(symbol: str, price: Decimal) -> Decimal:
    """The price increment shown for `symbol` at `price`: a cent from $1 up, and below $1 a
    hundredth of a cent for stocks (as US exchanges quote them) or 1e-9 for crypto."""
    if price >= 1:
        return _CENT
    return _SUB_PENNY_CRYPTO if is_crypto(symbol) else _SUB_PENNY_STOCK


@dataclass(frozen=True, slots=True)
class Bar:
    """One minute of one symbol; `timestamp` is the minute's start, UTC."""

    symbol: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
