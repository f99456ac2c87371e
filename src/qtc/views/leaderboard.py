"""The leaderboard: teams ranked by equity, for the API, the console and the summary."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from qtc.tracking.ports import TrackerView
from qtc.views.money import money
from qtc.views.portfolio import return_pct


def leaderboard_view(
    tracker: TrackerView,
    prices: Mapping[str, Decimal],
    orders_sent: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Teams ranked by equity at `prices` (ties by team id), best first."""
    rows = []
    for team_id in tracker.team_ids():
        portfolio = tracker.portfolio(team_id)
        value = portfolio.equity(prices)
        rows.append((value, team_id, portfolio))
    rows.sort(key=lambda row: (-row[0], row[1]))
    board = []
    for rank, (value, team_id, portfolio) in enumerate(rows, start=1):
        row: dict[str, Any] = {
            "rank": rank,
            "team_id": team_id,
            "equity": money(value),
            "market_value": money(value),  # the old name of `equity`, kept for one release
            "cash": money(portfolio.cash),
            "return_pct": str(return_pct(value, portfolio.initial_cash)),
            "fills": portfolio.fill_count,
            "open_orders": len(tracker.open_orders(team_id)),
        }
        if orders_sent is not None:
            row["orders"] = orders_sent.get(team_id, 0)
        board.append(row)
    return board
