"""Worker for the SIGKILL test: an order tracker trading at random against the local exchange.

Run: python tracker_crash_worker.py DATA_DIR BASE_URL SEED [--final]
Prints STARTED once imported (before loading), then ACT n per action until killed. With
--final it only loads (replay + reconcile), writes DATA_DIR/final.json and exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from decimal import Decimal
from pathlib import Path

from qtc.alpaca.broker import AlpacaBroker, RetryPolicy
from qtc.clock import RealClock
from qtc.domain.decimals import dec_str
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal, OrderAccessError, QTCError
from qtc.domain.signals import OrderIntent
from qtc.store.files import FileStore
from qtc.tracking.tracker import OrderTracker

KEY, SECRET = "qtc-local-key", "qtc-local-secret"
TEAMS = {f"team{i}": Decimal("1000000") for i in range(4)}
SYMBOLS = ("AAPL", "MSFT")


async def act(tracker: OrderTracker, rng: random.Random, prices: dict[str, Decimal]) -> None:
    """One random thing a team does: a market or limit order, or a cancel."""
    team = rng.choice(sorted(TEAMS))
    open_orders = tracker.open_orders(team)
    roll = rng.random()
    if roll < 0.2 and open_orders:
        await tracker.cancel(team, rng.choice(open_orders).order_id)
        return
    symbol = rng.choice(SYMBOLS)
    side = Side.BUY if rng.random() < 0.65 else Side.SELL
    qty = Decimal(rng.randint(1, 40))
    if side is Side.SELL:
        qty = min(qty, tracker.free_shares(team, symbol))
        if qty <= 0:
            side, qty = Side.BUY, Decimal(rng.randint(1, 40))
    last = prices.get(symbol)
    if last is None or roll < 0.45:
        order_type, tif, limit = OrderType.MARKET, TimeInForce.DAY, None
        requested = last or Decimal(100)
    else:
        order_type = OrderType.LIMIT
        tif = rng.choice([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
        offset = Decimal(rng.randint(-30, 30)) / Decimal(10000)
        limit = (last * (1 + offset)).quantize(Decimal("0.01"))
        requested = limit
    intent = OrderIntent(
        symbol=symbol,
        side=side,
        quantity=qty,
        order_type=order_type,
        time_in_force=tif,
        limit_price=limit,
        requested_price=requested,
    )
    await tracker.submit(team, intent)


def learn_prices(tracker: OrderTracker, prices: dict[str, Decimal]) -> None:
    for team in TEAMS:
        for order in tracker.list_orders(team, "all", 20):
            if order.filled_avg_price is not None:
                prices[order.symbol] = order.filled_avg_price


def dump(tracker: OrderTracker, path: Path) -> None:
    out = {}
    for team in TEAMS:
        p = tracker.portfolio(team)
        out[team] = {
            "cash": dec_str(p.cash),
            "positions": {
                s: [dec_str(x.quantity), dec_str(x.avg_cost)] for s, x in p.positions.items()
            },
            "realized_pnl": dec_str(p.realized_pnl),
            "fill_count": p.fill_count,
            "open": {o.order_id: o.status.value for o in tracker.open_orders(team)},
        }
    path.write_text(json.dumps(out, indent=1, sort_keys=True))


async def main(data_dir: Path, base_url: str, seed: int, final: bool) -> None:
    logging.basicConfig(
        filename=data_dir / "worker.log",
        level=logging.INFO,
        format=f"%(asctime)s [{seed}] %(levelname)s %(message)s",
    )
    broker = AlpacaBroker(
        KEY,
        SECRET,
        base_url=base_url,
        stream_url=base_url.replace("http://", "ws://") + "/stream",
        retry=RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2),
        reconnect_backoff=(0.05, 0.5),
    )
    tracker = OrderTracker(
        store=FileStore(data_dir),
        broker=broker,
        clock=RealClock(),
        teams=TEAMS,
        reconcile_interval=0.5,
    )
    print("STARTED", flush=True)
    await tracker.load()
    if final:
        dump(tracker, data_dir / "final.json")
        await broker.close()
        print("FINAL", flush=True)
        return
    tasks = [
        asyncio.create_task(tracker.run_stream()),
        asyncio.create_task(tracker.run_reconcile_loop()),
    ]
    rng = random.Random(seed)
    prices: dict[str, Decimal] = {}
    for n in range(10_000):
        learn_prices(tracker, prices)
        try:
            await act(tracker, rng, prices)
        except (InvalidSignal, OrderAccessError, QTCError) as e:
            logging.getLogger("worker").info("action refused: %s", e)
        print(f"ACT {n}", flush=True)
        await asyncio.sleep(rng.uniform(0, 0.02))
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), "--final" in sys.argv))
