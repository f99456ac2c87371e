"""Reconcile at scale: 10,000 and 100,000 open orders over 1,000 teams, 1% changed.

The broker answers like a remote one: each request takes 20 ms of waiting (the event loop is
free meanwhile) and costs this process nothing, so what is measured is the tracker's own
work. Printed: requests per cycle, the tracker's CPU, the longest time the event loop was held
(during the cycle and the checkpoint after it), and the periodic reconcile's requests a
minute once its wait has adapted to the listing.

Run: python -m bench reconcile
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import shutil
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.tracker_bench import T0, move, place, seed_ledgers, tracker_over
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.orders import BrokerOrder
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.tracking.tracker import reconcile_wait

SIZES = (10_000, 100_000)
ROUND_TRIP_S = 0.02
INTERVAL_S = 30.0


class RemoteBroker:
    """The simulated exchange seen through a network: every request waits ROUND_TRIP_S, and
    the open-order listing is the exchange's state when the cycle began."""

    def __init__(self, inner: SimulatedBroker, engine: ExchangeEngine) -> None:
        self.inner = inner
        self.engine = engine
        self.requests = 0
        self._listing: list[BrokerOrder] = []
        self._times: list[datetime] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def freeze(self) -> None:
        """Take the listing the next cycle pages through."""
        self._listing = self.engine.list("open", None, 10**9)
        self._times = [o.submitted_at or T0 for o in self._listing]

    async def list_orders(
        self, status: str = "open", after: datetime | None = None, limit: int = 500
    ) -> list[BrokerOrder]:
        self.requests += 1
        await asyncio.sleep(ROUND_TRIP_S)
        start = 0 if after is None else bisect.bisect_right(self._times, after)
        return self._listing[start : start + min(limit, 500)]

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        self.requests += 1
        await asyncio.sleep(ROUND_TRIP_S)
        return await self.inner.get_order(broker_order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        self.requests += 1
        await asyncio.sleep(ROUND_TRIP_S)
        return await self.inner.get_order_by_client_id(client_order_id)


class LoopWatch:
    """The longest stretch the event loop did not turn, seen by a task ticking every 1 ms."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - before - 0.001)

    def start(self) -> None:
        self.longest = 0.0
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> float:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return self.longest


async def run_size(n: int, root: Path) -> dict[str, float]:
    changers = max(1, n // 100)
    folder = root / f"n{n}"
    seed_ledgers(folder, changers)
    clock = ManualClock(T0)
    symbols = ["AAPL"] + [f"S{i:04d}" for i in range(2 * changers)]
    engine = ExchangeEngine(seed=1, symbols=symbols, buying_power=Decimal(10) ** 12)
    engine.set_price("AAPL", Decimal(100))
    inner = SimulatedBroker(engine, clock)
    tracker = tracker_over(folder, inner, clock)
    await tracker.load()
    await place(tracker, clock, n, changers)
    tracker.flush()
    remote = RemoteBroker(inner, engine)
    tracker.broker = remote
    tracker.reconciler.broker = remote

    move(engine, clock, [f"S{i:04d}" for i in range(changers)])
    remote.freeze()
    watch = LoopWatch()
    watch.start()
    cpu = time.process_time()
    wall = time.perf_counter()
    result = await tracker.reconcile()
    wall = time.perf_counter() - wall
    while tracker.recorder.checkpoints.busy:
        await asyncio.sleep(0.005)  # the checkpoint after the cycle, on its writer thread
    cpu = time.process_time() - cpu
    longest = await watch.stop()
    assert result.fills == changers, result
    wait = reconcile_wait(INTERVAL_S, result)
    await tracker.close()
    return {
        "n": n,
        "requests": result.requests,
        "wall_s": wall,
        "cpu_ms": cpu * 1e3,
        "block_ms": longest * 1e3,
        "wait_s": wait,
        "per_minute": result.requests * 60 / wait,
    }


async def run() -> list[dict[str, float]]:
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="qtc-bench-rec-", dir=shm if shm.is_dir() else None))
    try:
        return [await run_size(n, root) for n in SIZES]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    """Run the benchmark and print the table."""
    rows = asyncio.run(run())
    print(
        f"{'N open':>8} {'req/cycle':>9} {'cycle wall s':>12} {'CPU ms':>8} "
        f"{'longest loop block ms':>21} {'wait s':>7} {'req/min':>8}"
    )
    for r in rows:
        print(
            f"{r['n']:>8,} {r['requests']:>9,} {r['wall_s']:>12.2f} {r['cpu_ms']:>8.0f} "
            f"{r['block_ms']:>21.1f} {r['wait_s']:>7.0f} {r['per_minute']:>8.0f}"
        )
    print(
        f"1,000 teams, 1% of open orders partially filled; {ROUND_TRIP_S * 1e3:.0f} ms per "
        "request (the loop is free meanwhile); CPU = this process over the cycle and its "
        f"checkpoint; req/min = the periodic reconcile's, interval {INTERVAL_S:g} s, its wait "
        "adapted to the listing."
    )


if __name__ == "__main__":
    main()
