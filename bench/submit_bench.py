"""Cost of submitting as a team's open orders grow: 10 teams each place one order a minute
while holding N resting orders (issue 18 measured 0.7 ms at 10, 5.3 ms at 100 and 44 ms at
1,000 open orders per team, when each submit rewrote the team's whole file).

Printed per N: the submit (prepare, the minute's one write-ahead, the broker's answer) per
order, the batched rewrite of the changed teams' pending_orders.jsonl per minute, and the
fsyncs of a minute. Real disk under a temp folder; the exchange in process, in memory.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.signals import OrderIntent
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.store.files import FileStore
from qtc.tracking.tracker import OrderTracker

SIZES = (10, 100, 1_000)
TEAMS = [f"t{i:02d}" for i in range(10)]
MINUTES = 20
T0 = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
D = Decimal
RESTING = OrderIntent(  # far below the market: it rests until canceled
    symbol="AAPL",
    side=Side.BUY,
    quantity=D(1),
    order_type=OrderType.LIMIT,
    time_in_force=TimeInForce.GTC,
    limit_price=D(1),
    requested_price=D(1),
)


async def minute_batch(tracker: OrderTracker, clock: ManualClock) -> float:
    """One order per team, as a minute sends them; seconds for the whole batch."""
    clock.advance(timedelta(seconds=1))
    started = time.perf_counter()
    orders = [tracker.prepare(team, RESTING) for team in TEAMS]
    tracker.write_ahead(orders)
    await asyncio.gather(*(tracker.send(order) for order in orders))
    return time.perf_counter() - started


async def measure(open_per_team: int, folder: Path) -> dict[str, float]:
    log = logging.getLogger("bench.submit")
    log.setLevel(logging.WARNING)
    clock = ManualClock(T0)
    engine = ExchangeEngine(seed=1, symbols=["AAPL"], buying_power=D(10) ** 12)
    engine.set_price("AAPL", D(100))
    store = FileStore(folder, logger=log)
    tracker = OrderTracker(
        store=store,
        broker=SimulatedBroker(engine, clock),
        clock=clock,
        teams={t: D(10) ** 9 for t in TEAMS},
        logger=log,
    )
    await tracker.load()
    for _ in range(open_per_team):  # the resting orders, placed as minutes would
        await minute_batch(tracker, clock)
    tracker.flush()
    submits, flushes, fsyncs = [], [], []
    for _ in range(MINUTES):
        before = store.fsyncs.count
        submits.append(await minute_batch(tracker, clock) / len(TEAMS))
        started = time.perf_counter()
        tracker.flush()
        flushes.append(time.perf_counter() - started)
        fsyncs.append(store.fsyncs.count - before)
    return {
        "submit_ms": statistics.median(submits) * 1000,
        "flush_ms": statistics.median(flushes) * 1000,
        "fsyncs": statistics.mean(fsyncs),
    }


def main() -> None:
    print(
        f"{'open/team':>10} {'submit p50 ms':>14} {'rewrite/minute ms':>18} {'fsyncs/minute':>14}"
    )
    for n in SIZES:
        with tempfile.TemporaryDirectory(prefix="qtc-submit-bench-") as tmp:
            row = asyncio.run(measure(n, Path(tmp)))
        print(
            f"{n:>10,} {row['submit_ms']:>14.2f} {row['flush_ms']:>18.1f} {row['fsyncs']:>14.1f}",
            flush=True,
        )
    print(
        f"{len(TEAMS)} teams, one new order each a minute; submit = its share of the minute's "
        "prepare, one write-ahead and the answers; the rewrite of the teams' pending_orders.jsonl "
        "(two syncs for all of them) is once a minute, apart."
    )


if __name__ == "__main__":
    main()
