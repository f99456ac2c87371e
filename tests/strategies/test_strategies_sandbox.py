"""The worker pool: strategies run sandboxed, hostile ones are contained, good ones keep going."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtc.domain.errors import InvalidSignal
from qtc.domain.signals import OrderIntent, validate_signal
from qtc.strategies.results import StrategyResult

UNIVERSE = {"AAA", "BBB"}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:\tZ") for line in status)
    except FileNotFoundError:
        return False


async def minute(pool: Any, view: Callable[..., dict[str, Any]], *team_ids: str, **kw: Any):
    """Run one minute for these teams with the same market view."""
    results: dict[str, StrategyResult] = await pool.run_minute(
        {tid: view(tid, **kw) for tid in team_ids}
    )
    return results


async def test_good_team_keeps_trading_beside_hostile_ones(make_pool, team, view) -> None:
    hostile = ["raises", "sleeps", "spins", "memory_bomb", "exits"]
    specs = [team("steady", "good/steady")] + [team(h, f"hostile/{h}") for h in hostile]
    pool = await make_pool(specs, memory_mb=256)
    assert await pool.start() == {tid: None for tid in ["steady", *hostile]}

    for n in range(1, 4):
        results = await minute(pool, view, "steady", *hostile)
        assert results["steady"].error is None
        assert results["steady"].signals == [
            {
                "symbol": "AAA",
                "action": "buy",
                "quantity": 1,
                "order_type": "market",
                "reason": f"call {n}",  # the strategy object lives on between minutes
            }
        ]
        errors = {tid: results[tid].error for tid in hostile}
        assert all(e is not None and e.phase == "signal" for e in errors.values())
        assert all(results[tid].signals == [] for tid in hostile)
        assert errors["raises"].message == "ValueError: boom (at strategy.py:3)"
        assert errors["sleeps"].message == "timed out after 0.5 s"
        assert errors["spins"].message == "timed out after 0.5 s"
        assert "MemoryError" in errors["memory_bomb"].message
        assert errors["exits"].message == "SystemExit: 3 (at strategy.py:3)"
    assert pool.restarts("sleeps") == 2 and pool.restarts("spins") == 2
    assert pool.restarts("raises") == 0 and pool.restarts("steady") == 0


async def test_timeout_kills_the_worker_and_the_next_minute_works(make_pool, team, view) -> None:
    pool = await make_pool([team("hanger", "hostile/hangs_on_signal")])
    await pool.start()
    first_pid = pool.worker_pids()["hanger"]

    hung = await minute(pool, view, "hanger", prices={"AAA": Decimal(10), "HANG": Decimal(1)})
    assert hung["hanger"].error is not None
    assert hung["hanger"].error.message == "timed out after 0.5 s"
    assert not alive(first_pid)

    recovered = await minute(pool, view, "hanger")
    assert recovered["hanger"].error is None
    assert recovered["hanger"].signals == [{"symbol": "AAA", "action": "sell", "quantity": 1}]
    assert pool.restarts("hanger") == 1
    assert pool.worker_pids()["hanger"] != first_pid


async def test_a_crashed_worker_is_restarted(make_pool, team, view) -> None:
    pool = await make_pool([team("steady", "good/steady")])
    await pool.start()
    pid = pool.worker_pids()["steady"]
    os.kill(pid, signal.SIGKILL)  # the worker dies between minutes, as after a segfault
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)

    crashed = await minute(pool, view, "steady")
    assert crashed["steady"].error is not None
    assert "died" in crashed["steady"].error.message

    again = await minute(pool, view, "steady")
    assert again["steady"].error is None
    assert again["steady"].signals[0]["reason"] == "call 1"  # a fresh strategy object
    assert pool.restarts("steady") == 1


async def test_load_failures_are_recorded_not_fatal(make_pool, team, view) -> None:
    names = ["imports_os", "imports_socket", "imports_subprocess", "opens_file", "init_raises"]
    pool = await make_pool(
        [team("steady", "good/steady")] + [team(n, f"hostile/{n}") for n in names]
    )
    errors = await pool.start()
    assert errors["steady"] is None
    for name in names:
        error = errors[name]
        assert error is not None and error.phase == "load"
    assert errors["imports_os"].message == (
        "strategy refused: strategy.py:3: import of 'os' is refused "
        "(it reaches the file system and processes)"
    )
    assert "strategy.py:3: import of 'socket' is refused" in errors["imports_socket"].message
    assert "strategy.py:1: import of 'subprocess'" in errors["imports_subprocess"].message
    assert "strategy.py:3: use of 'open' is refused" in errors["opens_file"].message
    assert errors["init_raises"].message == "RuntimeError: cannot start (at strategy.py:3)"
    assert set(pool.failed) == set(names)
    assert not Path("/tmp/qtc-hostile-was-here").exists()

    results = await minute(pool, view, "steady", *names)
    assert results["steady"].signals[0]["reason"] == "call 1"
    assert all(results[n] == StrategyResult() for n in names)  # reported once, at load


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("set", "return value is a set"),
        ("object", "return value is a Thing"),
        ("generator", "return value is a generator"),
        ("huge_string", "['symbol'] is a string of 50000000 characters"),
        ("bytes", "['symbol'] is a bytes"),
        ("int_key", "has a key of type int"),
        ("deep", "nested deeper than"),
        ("many", "return value has 100000 items (max 200)"),
    ],
)
async def test_garbage_output_is_an_error_not_a_crash(
    make_pool, team, view, kind: str, fragment: str
) -> None:
    pool = await make_pool([team("junk", "hostile/garbage", kind=kind)], timeout=5.0)
    await pool.start()
    for _ in range(2):  # and the worker survives it
        result = (await minute(pool, view, "junk"))["junk"]
        assert result.error is not None
        assert result.error.message.startswith("returned garbage:")
        assert fragment in result.error.message
        assert isinstance(result.error.signal, str) and len(result.error.signal) <= 503
    assert pool.restarts("junk") == 0


async def test_bad_values_reach_validation_which_names_them(make_pool, team, view) -> None:
    names = ["bad_numbers", "unknown_symbol", "oversized"]
    pool = await make_pool([team(n, f"hostile/{n}") for n in names])
    await pool.start()
    results = await minute(pool, view, *names, cash=Decimal("1000"))
    assert all(results[n].error is None for n in names)

    problems = []
    for signal_ in results["bad_numbers"].signals + results["unknown_symbol"].signals:
        with pytest.raises(InvalidSignal) as info:
            validate_signal(signal_, UNIVERSE, {"AAA": Decimal(100)})
        problems.append(info.value.message)
    assert problems == [
        "quantity: nan is not a finite number",
        "quantity: inf is not a finite number",
        "quantity must be positive, got -5",
        "quantity must be positive, got 0",
        "price: -inf is not a finite number",
        "unknown symbol 'NOPE'",
    ]
    # Worth 100x the cash: a well-formed order, refused later for want of free cash.
    (big,) = results["oversized"].signals
    intent = validate_signal(big, UNIVERSE, {"AAA": Decimal(100)})
    assert isinstance(intent, OrderIntent)
    assert intent.quantity * intent.requested_price == Decimal(100) * Decimal(1000)


async def test_decimals_reach_strategies_as_floats(make_pool, team, view) -> None:
    pool = await make_pool([team("probe", "good/probe", window=5)])
    await pool.start()
    positions = {"AAA": {"quantity": Decimal("3"), "avg_cost": Decimal("99.5")}}
    (reply,) = (await minute(pool, view, "probe", positions=positions))["probe"].signals
    assert reply == {
        "cash": "float",
        "price": "float",
        "close": "float",
        "quantity": "float",
        "team_id": "probe",
        "params": {"window": 5},
    }


async def test_multi_file_examples_trade_as_designed(make_pool, team, view) -> None:
    specs = [
        team("hold", "examples/buy_and_hold", allocation=0.5),
        team("revert", "examples/mean_reversion", window=5),
        team("cancel", "examples/stale_canceler", max_age=2),
    ]
    pool = await make_pool(specs, timeout=5.0)
    assert await pool.start() == {"hold": None, "revert": None, "cancel": None}
    falling = [Decimal(100) - Decimal("0.5") * i for i in range(30)]
    open_order = {"order_id": "cancel-01", "symbol": "AAA", "side": "buy", "status": "new"}

    results = []
    for _ in range(3):
        views = {
            "hold": view("hold", closes=falling, prices={"AAA": Decimal("85")}),
            "revert": view("revert", closes=falling, prices={"AAA": Decimal("85")}),
            "cancel": view("cancel", open_orders=[open_order]),
        }
        results.append(await pool.run_minute(views))

    hold = [r["hold"].signals for r in results]
    assert hold[0] == [
        {
            "symbol": "AAA",
            "action": "buy",
            "quantity": math.floor(100000 * 0.5 / 85),
            "price": 85.0,
            "order_type": "market",
            "reason": "buy and hold",
        }
    ]
    assert hold[1:] == [[], []]  # bought once, then holds

    (limit,) = results[0]["revert"].signals  # signals.py helper imported by strategy.py
    assert (limit["action"], limit["order_type"], limit["time_in_force"]) == ("buy", "limit", "gtc")
    assert limit["price"] < 85

    cancels = [[s for s in r["cancel"].signals if s["action"] == "cancel"] for r in results]
    assert cancels[0] == [] and cancels[1] == []
    assert cancels[2] == [{"action": "cancel", "order_id": "cancel-01", "reason": "stale"}]
    assert all(
        s["time_in_force"] == "day"
        for r in results
        for s in r["cancel"].signals
        if s["action"] != "cancel"
    )


async def test_runtime_guard_blocks_what_the_ast_cannot_see(
    make_pool, team, view, tmp_path: Path
) -> None:
    secret = tmp_path / "other_team" / "trades.jsonl"
    secret.parent.mkdir()
    secret.write_text("a,b\n1,2\n")
    outside = tmp_path / "escaped.csv"
    specs = [
        team("writer", "hostile/writes_outside", target=str(outside)),
        team("reader", "hostile/reads_outside", target=str(secret)),
        team("net", "hostile/network", url="http://127.0.0.1:9/data.csv"),
        team("scratch", "good/pandas_scratch"),
    ]
    pool = await make_pool(specs, timeout=10.0, preload=("pandas",))
    assert set((await pool.start()).values()) == {None}
    results = await minute(pool, view, "writer", "reader", "net", "scratch")

    assert "sandbox: writing" in results["writer"].error.message
    assert not outside.exists()
    assert "sandbox: reading" in results["reader"].error.message
    assert "sandbox: urllib.Request is not allowed" in results["net"].error.message
    assert results["scratch"].error is None
    again = await minute(pool, view, "scratch")  # the file written last minute reads back
    assert [s["quantity"] for s in again["scratch"].signals] == [Decimal(30)]


async def test_close_stops_every_worker(make_pool, team, view) -> None:
    pool = await make_pool([team("a", "good/steady"), team("b", "hostile/sleeps")])
    await pool.start()
    pids = list(pool.worker_pids().values())
    assert len(pids) == 2 and all(alive(p) for p in pids)
    await pool.close()
    assert pool.worker_pids() == {}
    assert not any(alive(p) for p in pids)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def test_workers_die_with_their_fork_server(make_pool, team, view) -> None:
    pool = await make_pool([team("spinner", "hostile/spins")], timeout=30.0)
    await pool.start()
    pid = pool.worker_pids()["spinner"]
    server = pool.fork_server_pid
    assert server is not None
    running = asyncio.ensure_future(minute(pool, view, "spinner"))
    deadline = time.monotonic() + 10
    before = cpu_ticks(pid)
    while cpu_ticks(pid) <= before + 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert cpu_ticks(pid) > before + 5, "the worker never started spinning"

    os.kill(server, signal.SIGKILL)  # as if the host had been killed: nothing cleans up
    results = await asyncio.wait_for(running, 10)
    assert "died" in results["spinner"].error.message
    assert not alive(pid)


async def test_secrets_in_the_host_environment_never_reach_workers(
    make_pool, team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPACA_API_SECRET", "s3cret-value")
    pool = await make_pool([team("steady", "good/steady")])
    await pool.start()
    for pid in [pool.worker_pids()["steady"], pool.fork_server_pid]:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            assert b"s3cret-value" not in environ.read()
