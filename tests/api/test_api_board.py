"""The leaderboard's metrics and equity curves, through the live API, against the files."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from tests.support.files import jsonl_lines
from tests.support.metrics_reference import reference_metrics, unit_round_trips

from qtc.api.board import SORT_KEYS

if TYPE_CHECKING:
    from conftest import Stack

BOARD = "/api/v1/leaderboard"
HISTORY = "/api/v1/leaderboard/history"
# (low, high, close) of AAPL each minute, and what alpha does before that minute trades
MINUTES: list[tuple[str, str, str, tuple[str, str, str] | None]] = [
    ("99", "101", "100", ("buy", "10", "100")),
    ("100", "102", "101.5", None),
    ("97", "101", "97.5", None),
    ("96", "98", "96.5", ("sell", "4", "97")),
    ("97", "103", "102", None),
    ("101", "104", "103.5", ("sell", "6", "103")),
    ("102", "104", "103", ("buy", "5", "103")),
    ("98", "103", "98.5", ("sell", "5", "99")),
    ("98", "99", "99", None),
]


@pytest.fixture(scope="module")
def session(shared_stack: Stack) -> Stack:
    """Nine minutes of AAPL; alpha trades (three winning or losing round trips), beta holds
    its cash; every team's snapshot at the end of each minute, as the orchestrator writes."""
    stack = shared_stack
    for low, high, close, action in MINUTES:
        if action is not None:
            side, qty, limit = action
            order = stack.place("alpha", "AAPL", side, qty, limit, tif="day")
        stack.trade_minute("AAPL", low=low, high=high, volume="1000", close=close)
        if action is not None:
            stack.wait_for(
                lambda o=order: not stack.tracker.get_order("alpha", o.order_id).is_open,
                "the order to fill",
            )

        async def snapshot(price: str = close) -> None:
            stack.tracker.set_prices({"AAPL": Decimal(price)})
            stack.tracker.write_snapshots()

        stack.call(snapshot)
    return stack


def _files_series(stack: Stack, team: str) -> list[tuple[datetime, Decimal]]:
    """The team's equity from its snapshot files, after its initial capital."""
    lines = [
        line
        for path in sorted((stack.data_dir / "team" / team / "portfolio").glob("*.jsonl"))
        for line in jsonl_lines(path)
    ]
    points = [(datetime.fromisoformat(s["timestamp"]), Decimal(s["equity"])) for s in lines]
    return [(points[0][0] - timedelta(minutes=1), Decimal(100000)), *points]


def _board(stack: Stack, **params: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        answer = client.get(BOARD, params=params)
    assert answer.status_code == 200, answer.text
    teams: list[dict[str, Any]] = answer.json()["teams"]
    return teams


def test_metrics_match_an_independent_computation_over_the_files(session: Stack) -> None:
    rows = {row["team_id"]: row for row in _board(session)}
    alpha, beta = rows["alpha"], rows["beta"]
    expected = reference_metrics(_files_series(session, "alpha"))
    for name, value in expected.items():
        assert math.isclose(alpha[name], value, rel_tol=1e-9, abs_tol=1e-9), name
    trades = jsonl_lines(session.data_dir / "team" / "alpha" / "trades.jsonl")
    pnls = unit_round_trips(trades)
    wins, losses = [p for p in pnls if p > 0], [-p for p in pnls if p < 0]
    assert alpha["round_trips"] == len(pnls) == 3 and wins and losses
    assert math.isclose(alpha["win_rate_pct"], len(wins) / len(pnls) * 100)
    assert math.isclose(alpha["profit_factor"], float(sum(wins) / sum(losses)))
    assert alpha["fills"] == len(trades) and alpha["fees"] == "0"
    # beta never traded: a flat curve has no Sharpe, no round trips
    assert beta["total_return_pct"] == 0.0 and beta["max_drawdown_pct"] == 0.0
    assert beta["sharpe"] is None and beta["win_rate_pct"] is None and beta["round_trips"] == 0


def test_existing_fields_keep_their_meaning(session: Stack) -> None:
    with session.client() as client:
        old = client.get("/leaderboard").json()["teams"]
    new = _board(session)
    fields = ("rank", "team_id", "equity", "market_value", "cash", "return_pct", "fills")
    assert [{k: r[k] for k in fields} for r in old] == [{k: r[k] for k in fields} for r in new]
    assert [r["rank"] for r in new] == [1, 2]
    equities = [Decimal(r["equity"]) for r in new]
    assert equities == sorted(equities, reverse=True)


@pytest.mark.parametrize("metric", SORT_KEYS)
def test_sort_by_any_metric_best_first_nulls_last(session: Stack, metric: str) -> None:
    rows = _board(session, sort_by=metric)
    assert [r["rank"] for r in rows] == [1, 2]
    values = [r[metric] for r in rows]
    present = [Decimal(str(v)) for v in values if v is not None]
    assert values[: len(present)] == [v for v in values if v is not None]  # nulls last
    lower_first = metric in {"volatility_pct", "max_drawdown_pct", "max_drawdown_minutes", "fees"}
    assert present == sorted(present, reverse=not lower_first)


def test_an_unknown_sort_is_refused_clearly(session: Stack) -> None:
    with session.client() as client:
        answer = client.get(BOARD, params={"sort_by": "luck"})
    assert answer.status_code == 422
    assert "sort_by" in answer.json()["detail"] and "sharpe" in answer.json()["detail"]


def _history(stack: Stack, **params: Any) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.get(HISTORY, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_history_is_every_minute_and_keeps_min_and_max_when_cut(session: Stack) -> None:
    full = _history(session, team="alpha", points=5000)["teams"][0]
    series = _files_series(session, "alpha")
    by_minute = {t.replace(second=0, microsecond=0): v for t, v in series}
    assert full["count"] == len(full["times"]) == len(by_minute)
    assert [Decimal(v) for v in full["equity"]] == [
        v.quantize(Decimal("0.01")) for v in by_minute.values()
    ]
    equity = [Decimal(v) for v in full["equity"]]
    for points in (2, 5, 8):
        cut = _history(session, team="alpha", points=points)["teams"][0]
        assert len(cut["times"]) <= points and cut["count"] == full["count"]
        assert cut["times"] == sorted(cut["times"])
        kept = [Decimal(v) for v in cut["equity"]]
        assert min(equity) in kept and max(equity) in kept
        assert set(zip(cut["times"], cut["equity"], strict=True)) <= set(
            zip(full["times"], full["equity"], strict=True)
        )


def test_history_of_every_team_within_a_range(session: Stack) -> None:
    times = _history(session, team="alpha", points=5000)["teams"][0]["times"]
    body = _history(session, **{"from": times[2], "to": times[5]})
    assert [c["team_id"] for c in body["teams"]] == ["alpha", "beta"]
    for curve in body["teams"]:
        assert curve["times"] == times[2:6]
    assert set(_history(session, team="beta")["teams"][0]["equity"]) == {"100000"}


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"points": "1"}, 422, "points"),
        ({"points": "5001"}, 422, "points"),
        ({"points": "many"}, 422, "points"),
        ({"from": "yesterday"}, 422, "from"),
        ({"from": "2026-11-20T16:00:00Z", "to": "2026-11-20T15:00:00Z"}, 422, "from"),
        ({"team": "nobody"}, 404, "nobody"),
    ],
)
def test_history_refuses_bad_parameters(
    session: Stack, params: dict[str, str], status: int, says: str
) -> None:
    with session.client() as client:
        answer = client.get(HISTORY, params=params)
    assert answer.status_code == status and says in answer.json()["detail"]
