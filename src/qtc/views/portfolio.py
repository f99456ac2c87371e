"""A team's portfolio as the API shows it and as the minute snapshots record it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO, dec_str
from qtc.domain.portfolio import Portfolio
from qtc.domain.times import iso
from qtc.views.money import money, price

_PCT = Decimal("0.0001")


def return_pct(equity: Decimal, initial_cash: Decimal) -> Decimal:
    """Return on the initial capital, in percent, to four decimals."""
    if initial_cash <= 0:
        return ZERO
    return ((equity / initial_cash - 1) * 100).quantize(_PCT)


def portfolio_view(
    team_id: str, book: Portfolio, prices: Mapping[str, Decimal], reserved: Decimal
) -> dict[str, Any]:
    """Cash, reserved and free cash, positions at `prices` (a symbol without a price at its
    average cost), equity, P&L and return, rounded for display (`views.money`)."""
    positions = []
    for symbol, pos in sorted(book.positions.items()):
        last = prices.get(symbol, pos.avg_cost)
        positions.append(
            {
                "symbol": symbol,
                "quantity": dec_str(pos.quantity),
                "avg_cost": price(symbol, pos.avg_cost),
                "price": price(symbol, last),
                "market_value": money(pos.quantity * last),
                "unrealized_pnl": money((last - pos.avg_cost) * pos.quantity),
            }
        )
    equity = book.equity(prices)
    return {
        "team_id": team_id,
        "initial_cash": money(book.initial_cash),
        "cash": money(book.cash),
        "reserved_cash": money(reserved),
        "free_cash": money(book.cash - reserved),
        "positions": positions,
        "positions_value": money(book.positions_value(prices)),
        "equity": money(equity),
        "market_value": money(equity),  # the old name of `equity`, kept for one release
        "realized_pnl": money(book.realized_pnl),
        "unrealized_pnl": money(book.unrealized_pnl(prices)),
        "return_pct": dec_str(return_pct(equity, book.initial_cash)),
    }


def snapshot_record(
    team_id: str, book: Portfolio, prices: Mapping[str, Decimal], at: datetime
) -> dict[str, Any]:
    """One line of the team's portfolio/*.jsonl (exact values)."""
    equity = book.equity(prices)
    return {
        "timestamp": iso(at),
        "team_id": team_id,
        "cash": dec_str(book.cash),
        "positions": {
            s: {"quantity": dec_str(p.quantity), "avg_cost": dec_str(p.avg_cost)}
            for s, p in sorted(book.positions.items())
        },
        "equity": dec_str(equity),
        "market_value": dec_str(equity),  # the old name of `equity`, kept for one release
        # the prices that value the positions, so the files alone can show them (qtc serve)
        "prices": {s: dec_str(prices[s]) for s in sorted(book.positions) if s in prices},
        "realized_pnl": dec_str(book.realized_pnl),
        "fill_count": book.fill_count,
    }
