"""A whole competition: good teams trade every minute while hostile teams are contained."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from qtc.domain.enums import Side
from qtc.domain.fills import Fill
from qtc.domain.portfolio import Portfolio
from qtc.runner import run_session
from qtc.wiring import build_components

from .conftest import (
    EXAMPLES,
    HOSTILE,
    MIDDAY,
    OWN,
    SESSION_OPEN,
    fast_settings,
    lines,
    snapshot_lines,
    team,
    team_file,
)

MINUTES = 8
TIMEOUT = 1.0
GOOD = {
    "buyhold": EXAMPLES / "buy_and_hold",
    "meanrev": EXAMPLES / "mean_reversion",
    "stale": EXAMPLES / "stale_canceler",
}
# team -> (strategy folder, params, expected phase, text expected in the message)
HOSTILE_TEAMS = {
    "raises": (HOSTILE / "raises", {}, "signal", "boom"),
    "sleeps": (HOSTILE / "sleeps", {}, "signal", "timed out"),
    "spins": (HOSTILE / "spins", {}, "signal", "timed out"),
    "garbage_set": (HOSTILE / "garbage", {"kind": "set"}, "signal", "garbage"),
    "garbage_obj": (HOSTILE / "garbage", {"kind": "object"}, "signal", "garbage"),
    "memory": (HOSTILE / "memory_bomb", {}, "signal", "emory"),
    "unknown_sym": (HOSTILE / "unknown_symbol", {}, "validation", "unknown symbol 'NOPE'"),
    "bad_numbers": (OWN / "bad_quantities", {}, "validation", "not a finite number"),
    "too_big": (OWN / "too_big", {}, "validation", "insufficient free cash"),
    "foreign": (OWN / "cancels_foreign", {}, "order", "buyhold-01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    "imports_os": (HOSTILE / "imports_os", {}, "load", "os"),
    "imports_sock": (HOSTILE / "imports_socket", {}, "load", "socket"),
    "imports_subp": (HOSTILE / "imports_subprocess", {}, "load", "subprocess"),
    "opens_file": (HOSTILE / "opens_file", {}, "load", "open"),
}


@pytest.mark.slow
async def test_hostile_teams_are_contained_and_good_teams_trade_every_minute(
    tmp_path: Path,
) -> None:
    specs = [team(t, path) for t, path in GOOD.items()]
    specs += [team(t, path, 100_000, **params) for t, (path, params, _, _) in HOSTILE_TEAMS.items()]
    settings = fast_settings(tmp_path, MINUTES, strategy_timeout=TIMEOUT)
    parts = await build_components(settings, specs, start=MIDDAY, market="simulated", bars=[])

    started = time.perf_counter()
    assert await run_session(parts) == 0
    elapsed = time.perf_counter() - started

    # on time: every minute waits at most for the time limit (plus worker restarts)
    assert elapsed < MINUTES * (TIMEOUT + 2.0)
    assert parts.orchestrator.totals.minutes == MINUTES

    for team_id, (_, _, phase, text) in HOSTILE_TEAMS.items():
        errors = lines(team_file(tmp_path, team_id, "errors.jsonl"))
        assert errors, f"{team_id} has no error lines"
        matching = [e for e in errors if e["phase"] == phase and text in e["message"]]
        assert matching, f"{team_id}: no {phase} error mentioning {text!r} in {errors}"
        assert not lines(team_file(tmp_path, team_id, "trades.jsonl"))

    bad = [e["message"] for e in lines(team_file(tmp_path, "bad_numbers", "errors.jsonl"))]
    for text in ("not a finite number", "must be positive", "action must be"):
        assert any(text in m for m in bad), f"no bad_numbers error mentioning {text!r}"

    for team_id in GOOD:
        assert not lines(team_file(tmp_path, team_id, "errors.jsonl")), team_id
        snapshots = snapshot_lines(tmp_path, team_id)
        assert len(snapshots) >= MINUTES, f"{team_id} missed minutes"
    assert lines(team_file(tmp_path, "buyhold", "trades.jsonl")), "buy-and-hold never filled"
    placed = parts.orchestrator.totals.orders
    assert all(placed[t] > 0 for t in GOOD), placed
    assert not Path("/tmp/qtc-hostile-was-here").exists()


def _ledger_portfolio(data_dir: Path, team_id: str, capital: Decimal) -> Portfolio:
    fills = [
        Fill(
            order_id=row["order_id"],
            execution_id=row["execution_id"],
            symbol=row["symbol"],
            side=Side(row["side"]),
            qty=Decimal(row["quantity"]),
            price=Decimal(row["execution_price"]),
            timestamp=MIDDAY,
            cum_filled_qty=Decimal(row["filled_qty"]),
        )
        for row in lines(team_file(data_dir, team_id, "trades.jsonl"))
    ]
    return Portfolio.replay(capital, fills)


@pytest.mark.slow
async def test_restart_mid_session_resumes_portfolios_open_orders_and_exchange(
    tmp_path: Path,
) -> None:
    specs = [team(t, path) for t, path in GOOD.items()]
    first = await build_components(
        fast_settings(tmp_path, 25), specs, start=MIDDAY, market="simulated", bars=[]
    )
    await run_session(first)
    before = {t: first.tracker.portfolio(t) for t in GOOD}
    open_before = {t: {o.order_id for o in first.tracker.open_orders(t)} for t in GOOD}
    assert any(open_before.values()), "the scenario should leave open orders"

    second = await build_components(
        fast_settings(tmp_path, 25), specs, start=None, market="simulated", bars=[]
    )
    # resumed where the first run stopped, with the same books
    assert second.first_minute == MIDDAY.replace(minute=25)
    for t in GOOD:
        resumed = second.tracker.portfolio(t)
        assert resumed.cash == before[t].cash
        assert {s: p.quantity for s, p in resumed.positions.items()} == {
            s: p.quantity for s, p in before[t].positions.items()
        }
        assert {o.order_id for o in second.tracker.open_orders(t)} == open_before[t]
    await run_session(second)

    executions = second.journal.executions if second.journal is not None else []
    for t in GOOD:
        # the portfolio is a fold over the ledger, and the ledger equals the exchange's fills
        replayed = _ledger_portfolio(tmp_path, t, Decimal(100_000))
        assert second.tracker.portfolio(t).cash == replayed.cash
        ledger = sorted(
            (r["order_id"], Decimal(r["quantity"]), Decimal(r["execution_price"]))
            for r in lines(team_file(tmp_path, t, "trades.jsonl"))
        )
        exchange = sorted(
            (e.client_order_id, e.qty, e.price)
            for e in executions
            if e.client_order_id.startswith(f"{t}-")
        )
        assert ledger == exchange, t
        assert not any(
            o["status"] == "rejected" for o in lines(team_file(tmp_path, t, "orders.jsonl"))
        ), "no order may be lost across the restart"


@pytest.mark.slow
async def test_hundred_teams_complete_a_full_390_minute_session(tmp_path: Path) -> None:
    folders = [EXAMPLES / "buy_and_hold"] * 80 + [EXAMPLES / "mean_reversion"] * 10
    folders += [EXAMPLES / "stale_canceler"] * 10
    specs = [team(f"team{i:03d}", folder) for i, folder in enumerate(folders)]
    settings = fast_settings(tmp_path, 390, strategy_timeout=5.0)
    parts = await build_components(settings, specs, start=SESSION_OPEN, market="simulated", bars=[])
    assert await run_session(parts) == 0

    assert parts.orchestrator.totals.minutes == 390
    for spec in specs:
        assert not lines(team_file(tmp_path, spec.team_id, "errors.jsonl")), spec.team_id
        assert len(snapshot_lines(tmp_path, spec.team_id)) >= 390
        # day orders do not outlive the session they were placed in
        assert all(o.time_in_force.value != "day" for o in parts.tracker.open_orders(spec.team_id))
        replayed = _ledger_portfolio(tmp_path, spec.team_id, spec.capital)
        assert parts.tracker.portfolio(spec.team_id).cash == replayed.cash
    expired = [
        o
        for spec in specs
        for o in lines(team_file(tmp_path, spec.team_id, "orders.jsonl"))
        if o["status"] == "expired"
    ]
    assert expired, "the close should expire the day orders left open"
