"""Benchmark: the leaderboard with metrics and the equity-curve history, 1,000 teams x 390 min.

Files as a run leaves them (a day of minute snapshots and a ledger of round trips per team),
loaded by the real tracker; the real app answers in process (ASGI, no network), so the
times are the server's: the first answer (every snapshot read), a cached answer, the first
answer after a new minute (1,000 new snapshots read on), and the history at 200 points.

Run: python -m bench board   (or python -m bench.board_bench). Prints a table; asserts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

TEAMS = 1000
MINUTES = 390
FILLS = 20  # per team: ten round trips
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
CAPITAL = Decimal(100_000)
CACHED_REQUESTS = 200
NEW_MINUTES = 20
HISTORY_REQUESTS = 30


def _write_files(data_dir: Path, teams: list[str]) -> None:
    """Each team's ledger (FILLS lines) and its day of minute snapshots (a random walk)."""
    from qtc.domain.enums import OrderType, Side
    from qtc.store.jsonl import dumps
    from qtc.store.records import TradeRecord

    rng = np.random.default_rng(7)
    for n, team in enumerate(teams):
        folder = data_dir / "team" / team
        (folder / "portfolio").mkdir(parents=True)
        trades = []
        for k in range(FILLS):
            trades.append(
                TradeRecord(
                    team_id=team,
                    order_id=f"{team}-{k}",
                    broker_order_id=f"b-{n}-{k}",
                    execution_id=f"x-{n}-{k}",
                    symbol="AAPL",
                    side=Side.BUY if k % 2 == 0 else Side.SELL,
                    quantity=Decimal(10),
                    execution_price=Decimal(100 + int(rng.integers(-3, 4))),
                    requested_price=Decimal(100),
                    order_type=OrderType.MARKET,
                    timestamp=T0 + timedelta(minutes=k * 15),
                    filled_qty=Decimal(10),
                ).to_json()
            )
        (folder / "trades.jsonl").write_text("".join(dumps(t) + "\n" for t in trades))
        walk = 100_000 * np.cumprod(1 + rng.normal(0.00001, 0.0008, MINUTES))
        lines = [_snapshot(team, T0 + timedelta(minutes=i + 1), v) for i, v in enumerate(walk)]
        (folder / "portfolio" / f"{T0:%Y-%m-%d}.jsonl").write_text("".join(lines))


def _snapshot(team: str, at: datetime, equity: float) -> str:
    from qtc.store.jsonl import dumps

    value = f"{equity:.4f}"
    record = {
        "timestamp": at.isoformat(),
        "team_id": team,
        "cash": value,
        "positions": {},
        "equity": value,
        "market_value": value,
        "prices": {},
        "realized_pnl": "0",
        "fill_count": FILLS,
    }
    return dumps(record) + "\n"


async def _build(data_dir: Path, minute: list[int]) -> Any:
    from qtc.api.app import create_app
    from qtc.api.keys import KeyStore
    from qtc.brokers.simulated import SimulatedBroker
    from qtc.clock import ManualClock
    from qtc.exchange.engine.matching import ExchangeEngine
    from qtc.store.files import FileStore
    from qtc.tracking.tracker import OrderTracker

    clock = ManualClock(T0 + timedelta(minutes=MINUTES + 1))
    engine = ExchangeEngine(seed=1, symbols=("AAPL",))
    engine.set_price("AAPL", Decimal(100), liquidity=Decimal(0))
    teams = sorted(p.name for p in (data_dir / "team").iterdir())
    tracker = OrderTracker(
        store=FileStore(data_dir),
        broker=SimulatedBroker(engine, clock),
        clock=clock,
        teams=dict.fromkeys(teams, CAPITAL),
    )
    await tracker.load()
    app = create_app(
        tracker,
        KeyStore(data_dir / "api_keys.json"),
        prices=lambda: {"AAPL": Decimal(100)},
        snapshots=tracker.store,
        board_minute=lambda: minute[0],
    )
    return app


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    answer = await call()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
    return elapsed


def _row(name: str, samples: list[float], target: str = "") -> tuple[str, ...]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (name, str(len(samples)), f"{statistics.median(ordered):.1f}", f"{p99:.1f}", target)


async def _run(data_dir: Path) -> list[tuple[str, ...]]:
    import httpx

    minute = [0]
    app = await _build(data_dir, minute)
    transport = httpx.ASGITransport(app=app)
    rows = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        def board(**params: str) -> Callable[[], Awaitable[Any]]:
            return lambda: client.get("/api/v1/leaderboard", params=params)

        def history(**params: str) -> Callable[[], Awaitable[Any]]:
            return lambda: client.get("/api/v1/leaderboard/history", params=params)

        rows.append(_row("leaderboard, first answer (reads all)", [await _timed(board())]))
        cached = [await _timed(board()) for _ in range(CACHED_REQUESTS)]
        rows.append(_row("leaderboard, cached", cached, "p99 < 50"))
        by_sharpe = [await _timed(board(sort_by="sharpe")) for _ in range(CACHED_REQUESTS)]
        rows.append(_row("leaderboard ?sort_by=sharpe, cached", by_sharpe, "p99 < 50"))
        after = await _new_minutes(data_dir, minute, [board(), history(points="200")])
        rows.append(_row("leaderboard, first after a new minute", after[0]))
        rows.append(_row("history, all teams, 200 points, first after a new minute", after[1]))
        curves = [await _timed(history(points="200")) for _ in range(HISTORY_REQUESTS)]
        rows.append(_row("history, all teams, 200 points, cached", curves, "p99 < 200"))
        one = [await _timed(history(team="t0007", points="200")) for _ in range(CACHED_REQUESTS)]
        rows.append(_row("history, one team, 200 points, cached", one))
    return rows


async def _new_minutes(
    data_dir: Path, minute: list[int], calls: list[Callable[[], Awaitable[Any]]]
) -> list[list[float]]:
    """Each new minute: one more snapshot per team, then each call once (the first pays
    for reading the new snapshots); the times of each call."""
    samples: list[list[float]] = [[] for _ in calls]
    teams = sorted(p.name for p in (data_dir / "team").iterdir())
    for m in range(NEW_MINUTES):
        at = T0 + timedelta(minutes=MINUTES + 1 + m)
        day = f"{T0:%Y-%m-%d}.jsonl"
        for team in teams:
            with (data_dir / "team" / team / "portfolio" / day).open("a") as f:
                f.write(_snapshot(team, at, 100_000 + m))
        minute[0] += 1
        for times, call in zip(samples, calls, strict=True):
            times.append(await _timed(call))
    return samples


def main() -> None:
    """Write the files, run, print the table."""
    logging.basicConfig(level=logging.WARNING)
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="qtc-board-bench-", dir=shm if shm.is_dir() else None))
    try:
        started = time.perf_counter()
        teams = [f"t{i:04d}" for i in range(TEAMS)]
        _write_files(root, teams)
        print(f"{TEAMS} teams x {MINUTES} minutes written in {time.perf_counter() - started:.1f} s")
        rows = asyncio.run(_run(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    header = ("what", "n", "p50 ms", "p99 ms", "target ms")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
