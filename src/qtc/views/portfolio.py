"""A team's portfolio as the API shows it and as the minute snapshots record it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO, dec_str
from qtc.domain.portfolio import Portfolio
from qtc.domain.times import iso

_PCT = Decimal("0.0001")


def return_pct(market_value: Decimal, initial_cash: Decimal) -> Decimal:
    """Return on the initial capital, in percent, to four decimals."""
    if initial_cash <= 0:
        return ZERO
    return ((market_value / initial_cash - 1) * 100).quantize(_PCT)


def portfolio_view(
    team_id: str, book: Portfolio, prices: Mapping[str, Decimal], reserved: Decimal
) -> dict[str, Any]:
    """Cash, reserved and free cash, positions at `prices` (a symbol without a price at its
    average cost), P&L and return."""
    positions = []
    for symbol, pos in sorted(book.positions.items()):
        price = prices.get(symbol, pos.avg_cost)
        positions.append(
            {
                "symbol": symbol,
                "quantity": dec_str(pos.quantity),
                "avg_cost": dec_str(pos.avg_cost),
                "price": dec_str(price),
                "market_value": dec_str(pos.quantity * price),
                "unrealized_pnl": dec_str((price - pos.avg_cost) * pos.quantity),
            }
        )
    market_value = book.market_value(prices)
    return {
        "team_id": team_id,
        "initial_cash": dec_str(book.initial_cash),
        "cash": dec_str(book.cash),
        "reserved_cash": dec_str(reserved),
        "free_cash": dec_str(book.cash - reserved),
        "positions": positions,
        "positions_value": dec_str(book.positions_value(prices)),
        "market_value": dec_str(market_value),
        "realized_pnl": dec_str(book.realized_pnl),
        "unrealized_pnl": dec_str(book.unrealized_pnl(prices)),
        "return_pct": dec_str(return_pct(market_value, book.initial_cash)),
    }


def snapshot_record(
    team_id: str, book: Portfolio, prices: Mapping[str, Decimal], at: datetime
) -> dict[str, Any]:
    """One line of the team's portfolio/*.jsonl."""
    return {
        "timestamp": iso(at),
        "team_id": team_id,
        "cash": dec_str(book.cash),
        "positions": {
            s: {"quantity": dec_str(p.quantity), "avg_cost": dec_str(p.avg_cost)}
            for s, p in sorted(book.positions.items())
        },
        "market_value": dec_str(book.market_value(prices)),
        "realized_pnl": dec_str(book.realized_pnl),
        "fill_count": book.fill_count,
    }
