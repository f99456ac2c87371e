"""Market data as the domain sees it: minute bars and instruments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


def is_crypto(symbol: str) -> bool:
    """Crypto pairs are written with a slash (`BTC/USD`) and trade around the clock."""
    return "/" in symbol


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
