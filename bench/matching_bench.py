"""Cost of the simulated exchange's minute with many resting orders: 10,000 orders of mixed
types and classes (limits, stops, stop-limits, trailing stops, brackets with held legs, oco
pairs) rest over 10 symbols, and every minute brings one bar per symbol (a seeded random walk).

Printed: p50 and p95 milliseconds per `on_minute`, and how many orders rest and filled.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.market import Bar
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.matching import ExchangeEngine

SYMBOLS = [f"S{i:02d}" for i in range(10)]
RESTING = 10_000
MINUTES = 300
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
D = Decimal
CENT = D("0.01")


def price(rng: random.Random, low: float, high: float) -> Decimal:
    return D(str(round(rng.uniform(low, high), 2))).quantize(CENT)


def request(rng: random.Random, n: int) -> OrderRequest:
    """One resting order around a price of 100: mostly far from it, a few near."""
    symbol = rng.choice(SYMBOLS)
    buy = rng.random() < 0.5
    side = Side.BUY if buy else Side.SELL
    fields: dict[str, object] = {}
    roll = rng.random()
    away = (
        (lambda lo, hi: price(rng, 100 - hi, 100 - lo))
        if buy
        else (lambda lo, hi: price(rng, 100 + lo, 100 + hi))
    )
    toward = (
        (lambda lo, hi: price(rng, 100 + lo, 100 + hi))
        if buy
        else (lambda lo, hi: price(rng, 100 - hi, 100 - lo))
    )
    if roll < 0.3:
        kind, fields["limit_price"] = OrderType.LIMIT, away(0.5, 40)
    elif roll < 0.5:
        kind, fields["stop_price"] = OrderType.STOP, toward(1, 40)
    elif roll < 0.6:
        stop = toward(1, 40)
        kind, fields["stop_price"], fields["limit_price"] = OrderType.STOP_LIMIT, stop, stop
    elif roll < 0.7:
        kind, fields["trail_percent"] = OrderType.TRAILING_STOP, D(rng.randint(3, 20))
    elif roll < 0.9:
        entry = away(2, 40)
        kind, fields["limit_price"] = OrderType.LIMIT, entry
        fields["order_class"] = OrderClass.BRACKET
        high, low = entry + 5, entry - 5
        fields["take_profit_limit_price"] = high if buy else low
        fields["stop_loss_stop_price"] = low if buy else high
    else:
        limit = price(rng, 101, 140) if not buy else price(rng, 60, 99)
        kind, fields["limit_price"] = OrderType.LIMIT, limit
        fields["order_class"] = OrderClass.OCO
        # the exits of a short (buy) or a long (sell): the stop on the far side of the market
        fields["stop_loss_stop_price"] = price(rng, 101, 140) if buy else price(rng, 60, 99)
    return OrderRequest(
        client_order_id=f"bench-{n}",
        symbol=symbol,
        side=side,
        qty=D(rng.randint(1, 50)),
        order_type=kind,
        time_in_force=TimeInForce.GTC,
        **fields,  # type: ignore[arg-type]
    )


def main() -> None:
    rng = random.Random(5)
    engine = ExchangeEngine(seed=1, symbols=SYMBOLS, buying_power=D(10) ** 12)
    last = {s: D(100) for s in SYMBOLS}
    for s in SYMBOLS:
        engine.set_price(s, last[s])
    for n in range(RESTING):
        engine.submit(request(rng, n), T0)
    resting = len(engine.list("open", limit=10**6))
    timings = []
    for m in range(1, MINUTES + 1):
        minute = T0 + timedelta(minutes=m)
        bars = {}
        for s in SYMBOLS:
            o = last[s]
            c = max(D(50), (o + D(rng.randint(-30, 30)) / 100).quantize(CENT))
            h = max(o, c) + D(rng.randint(0, 15)) / 100
            lo = min(o, c) - D(rng.randint(0, 15)) / 100
            bars[s] = Bar(s, minute, o, h, lo, c, D(rng.randint(1_000, 50_000)))
            last[s] = c
        started = time.perf_counter()
        engine.on_minute(minute, bars)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    still = len(engine.list("open", limit=10**6))
    print(f"{'resting':>8} {'minutes':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'fills':>7}")
    print(
        f"{resting:>8,} {MINUTES:>8} {statistics.median(timings):>8.2f} {p95:>8.2f} "
        f"{timings[-1]:>8.2f} {len(engine.executions):>7,}"
    )
    print(
        f"{len(SYMBOLS)} symbols, one bar each per minute; open orders (legs included) at the "
        f"start {resting:,}, at the end {still:,}."
    )


if __name__ == "__main__":
    main()
