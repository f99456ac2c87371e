"""Independent computations of the leaderboard's metrics (pandas, numpy, share by share)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from qtc.views.metrics import PERIODS_PER_YEAR


def reference_metrics(points: list[tuple[datetime, Decimal]]) -> dict[str, Any]:
    """The same metrics the textbook way, with pandas (the last snapshot of each minute)."""
    raw = pd.Series([float(v) for _, v in points], index=pd.DatetimeIndex([t for t, _ in points]))
    equity = raw.groupby(raw.index.floor("min")).last()
    r = equity.pct_change().dropna()
    total = equity.iloc[-1] / equity.iloc[0] - 1
    annual = (1 + total) ** (PERIODS_PER_YEAR / len(r)) - 1
    std = r.std(ddof=1)
    drawdown = 1 - equity / equity.cummax()
    return {
        "total_return_pct": total * 100,
        "annualized_return_pct": annual * 100,
        "volatility_pct": std * math.sqrt(PERIODS_PER_YEAR) * 100,
        "sharpe": r.mean() / std * math.sqrt(PERIODS_PER_YEAR),
        "sortino": r.mean() / np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(PERIODS_PER_YEAR),
        "calmar": annual / drawdown.max(),
        "max_drawdown_pct": drawdown.max() * 100,
        "max_drawdown_minutes": longest_underwater(equity.to_numpy()),
    }


def longest_underwater(equity: np.ndarray) -> int:
    """Steps from a peak to the first point back at or above it (or to the end)."""
    peaks = np.maximum.accumulate(equity)
    below = equity < peaks
    longest, start = 0, None
    for i, under in enumerate(below):
        if under and start is None:
            start = i - 1  # the peak
        elif not under and start is not None:
            longest, start = max(longest, i - start), None
    if start is not None:
        longest = max(longest, len(equity) - 1 - start)
    return longest


def unit_round_trips(fills: list[dict[str, Any]]) -> list[Decimal]:
    """Independent FIFO: every share is its own lot; a closing fill's P&L sums its shares."""
    lots: dict[str, list[tuple[int, Decimal]]] = {}
    out = []
    for f in fills:
        sign = 1 if f["side"] == "buy" else -1
        price = Decimal(f["execution_price"])
        queue = lots.setdefault(f["symbol"], [])
        pnl, closed = Decimal(0), False
        for _ in range(int(f["quantity"])):
            if queue and queue[0][0] != sign:
                held, entry = queue.pop(0)
                pnl += (price - entry) * held
                closed = True
            else:
                queue.append((sign, price))
        if closed:
            out.append(pnl)
    return out
