"""The leaderboard's metrics agree with an independent pandas computation on known series."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from tests.support.metrics_reference import reference_metrics, unit_round_trips

from qtc.views.metrics import METRICS, team_metrics

T0 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
SERIES_METRICS = (
    "total_return_pct",
    "annualized_return_pct",
    "volatility_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "max_drawdown_minutes",
)


def _walk(seed: int, minutes: int = 390) -> list[tuple[datetime, Decimal]]:
    """A random minute equity series (exact decimals), with a second, earlier snapshot in
    some minutes (after a fill) and a night between two sessions."""
    rng = np.random.default_rng(seed)
    values = 100_000 * np.cumprod(1 + rng.normal(0.00002, 0.001, minutes))
    points = []
    for i, value in enumerate(values):
        at = T0 + timedelta(minutes=i) + (timedelta(hours=17) if i >= minutes // 2 else timedelta())
        if i % 7 == 3:  # a snapshot after a fill, then the minute's own (the last one counts)
            points.append((at + timedelta(seconds=5), Decimal("1")))
        points.append((at + timedelta(seconds=30), Decimal(f"{value:.6f}")))
    return points


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_series_metrics_match_pandas(seed: int) -> None:
    points = _walk(seed)
    got = team_metrics(points, [])
    expected = reference_metrics(points)
    for name in SERIES_METRICS:
        assert _close(got[name], expected[name]), (name, got[name], expected[name])


def test_a_drawdown_that_recovers_and_one_that_does_not() -> None:
    values = ["100", "110", "99", "88", "121", "120", "121", "100", "105"]
    points = [(T0 + timedelta(minutes=i), Decimal(v)) for i, v in enumerate(values)]
    got = team_metrics(points, [])
    assert _close(got["max_drawdown_pct"], 20.0)  # 110 -> 88
    assert got["max_drawdown_minutes"] == 3  # 110 at minute 1, back above at minute 4
    for name, value in reference_metrics(points).items():
        assert _close(got[name], value), name


def test_a_flat_series_has_no_sharpe_sortino_or_calmar() -> None:
    points = [(T0 + timedelta(minutes=i), Decimal("100000")) for i in range(30)]
    got = team_metrics(points, [])
    assert got["total_return_pct"] == 0.0 and got["volatility_pct"] == 0.0
    assert got["max_drawdown_pct"] == 0.0 and got["max_drawdown_minutes"] == 0
    assert got["sharpe"] is None and got["sortino"] is None and got["calmar"] is None
    assert got["annualized_return_pct"] == 0.0


@pytest.mark.parametrize("count", [0, 1])
def test_one_point_or_none_computes_nothing(count: int) -> None:
    points = [(T0, Decimal("100000"))] * count
    got = team_metrics(points, [])
    assert set(got) == set(METRICS)
    assert all(got[name] is None for name in SERIES_METRICS)
    assert got["win_rate_pct"] is None and got["profit_factor"] is None
    assert got["round_trips"] == 0 and got["fees"] == 0


def test_two_points_have_a_return_but_no_volatility() -> None:
    points = [(T0, Decimal("100")), (T0 + timedelta(minutes=1), Decimal("101"))]
    got = team_metrics(points, [])
    assert _close(got["total_return_pct"], 1.0)
    assert got["volatility_pct"] is None and got["sharpe"] is None


def test_an_overflowing_annualised_return_is_null_never_inf() -> None:
    points = [(T0, Decimal("1")), (T0 + timedelta(minutes=1), Decimal("1000"))]
    got = team_metrics(points, [])
    assert got["annualized_return_pct"] is None and got["calmar"] is None
    assert _close(got["total_return_pct"], 99_900.0)


def test_a_series_that_reaches_zero_has_no_return_metrics() -> None:
    values = ["100", "50", "0", "10"]
    got = team_metrics([(T0 + timedelta(minutes=i), Decimal(v)) for i, v in enumerate(values)], [])
    assert all(got[name] is None or math.isfinite(got[name]) for name in SERIES_METRICS)
    assert got["sharpe"] is None and got["total_return_pct"] is None


def test_a_point_older_than_the_last_minute_is_ignored() -> None:
    points = [
        (T0, Decimal("100")),
        (T0 + timedelta(minutes=2), Decimal("110")),
        (T0 + timedelta(minutes=1), Decimal("50")),
        (T0 + timedelta(minutes=3), Decimal("121")),
    ]
    got = team_metrics(points, [])
    assert _close(got["total_return_pct"], 21.0) and got["max_drawdown_pct"] == 0.0


# round trips


def _fill(symbol: str, side: str, qty: str, price: str, fee: str | None = None) -> dict[str, Any]:
    line = {"symbol": symbol, "side": side, "quantity": qty, "execution_price": price}
    if fee is not None:
        line["fee"] = fee
    return line


TRADES = [
    _fill("AAPL", "buy", "10", "100"),
    _fill("AAPL", "buy", "5", "102"),
    _fill("NVDA", "sell", "4", "500"),  # a short
    _fill("AAPL", "sell", "12", "101"),  # closes 10 @100 (+10) and 2 @102 (-2)
    _fill("NVDA", "buy", "6", "490"),  # covers the short (+40) and opens 2 long
    _fill("AAPL", "sell", "5", "99"),  # closes 3 @102 (-9), opens a 2 short
    _fill("NVDA", "sell", "2", "495"),  # closes 2 @490 (+10)
    _fill("AAPL", "buy", "2", "98"),  # covers the short (+2)
]


def test_round_trips_match_an_independent_fifo() -> None:
    pnls = unit_round_trips(TRADES)
    assert pnls == [Decimal(8), Decimal(40), Decimal(-9), Decimal(10), Decimal(2)]
    got = team_metrics([], TRADES)
    wins = [p for p in pnls if p > 0]
    losses = [-p for p in pnls if p < 0]
    assert got["round_trips"] == len(pnls) == 5
    assert _close(got["win_rate_pct"], len(wins) / len(pnls) * 100)
    assert _close(got["profit_factor"], float(sum(wins) / sum(losses)))


def test_all_losing_round_trips() -> None:
    trades = [_fill("AAPL", "buy", "1", "100"), _fill("AAPL", "sell", "1", "90")] * 3
    got = team_metrics([], trades)
    assert got["win_rate_pct"] == 0.0 and got["profit_factor"] == 0.0 and got["round_trips"] == 3


def test_only_winning_round_trips_have_no_profit_factor() -> None:
    trades = [_fill("AAPL", "buy", "1", "100"), _fill("AAPL", "sell", "1", "110")]
    got = team_metrics([], trades)
    assert got["win_rate_pct"] == 100.0 and got["profit_factor"] is None


def test_open_positions_only_close_no_round_trip_and_fees_sum() -> None:
    trades = [_fill("AAPL", "buy", "1", "100", fee="0.25"), _fill("MSFT", "sell", "2", "50", "1")]
    got = team_metrics([], trades)
    assert got["round_trips"] == 0 and got["win_rate_pct"] is None
    assert got["fees"] == Decimal("1.25")
