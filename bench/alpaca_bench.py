"""Benchmarks of the Alpaca adapter against `qtc exchange` on 127.0.0.1 (run: `make bench`).

Prints REST requests per reconcile cycle for N open orders, counted both by the adapter and by
the exchange's `/qtc/stats`. A reconcile cycle is the tracker's listing of open orders: one
`GET /v2/orders?status=open&limit=500&direction=asc` page per 500, paging on submission time
(a last page of exactly 500 needs one more, empty, request to know it was the last).

Then the time from the exchange filling an order to the fill's line in `trades.jsonl`, through
a real OrderTracker, with the `trade_updates` stream and with polling only.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path

import httpx

from qtc.alpaca.broker import AlpacaBroker
from qtc.alpaca.budget import RequestBudget
from qtc.brokers.base import MAX_LIST_LIMIT
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.ids import new_order_id
from qtc.domain.orders import OrderRequest
from qtc.exchange.server.control_token import CONTROL_TOKEN_ENV, control_headers
from qtc.tracking.reconcile import list_open_orders

KEY, SECRET = "bench-key", "bench-secret"
CONTROL_TOKEN = "bench-control-token"  # the /qtc/* token the bench's exchange is started with
CONTROL = control_headers(CONTROL_TOKEN)
SYMBOL = "BTC/USD"
SIZES = (10, 100, 1_000)
POLL_INTERVAL = 1.0  # reconcile interval of the polling-only run (production default: 30 s)
_QTC = Path(sys.executable).with_name("qtc")
_URL_LINE = re.compile(r"base URL: (http://127\.0\.0\.1:\d+)")


@contextmanager
def local_exchange(*extra: str) -> Iterator[str]:
    """Start `qtc exchange` on a free port; yield its base URL; stop it (by its pid) after."""
    command = [str(_QTC), "exchange", "--port", "0", "--key", KEY, "--secret", SECRET, *extra]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", CONTROL_TOKEN_ENV: CONTROL_TOKEN},
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            found = _URL_LINE.search(line)
            url = found.group(1) if found else None
        if url is None:
            raise RuntimeError("qtc exchange did not start")
        _wait_until_serving(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_serving(url: str) -> None:
    """The URL is printed before uvicorn listens; wait (bounded) until it answers."""
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/qtc/time", headers=CONTROL, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def broker_for(url: str, limiter: RequestBudget | None = None) -> AlpacaBroker:
    """An AlpacaBroker on the local exchange."""
    return AlpacaBroker(
        KEY,
        SECRET,
        base_url=url,
        stream_url=url.replace("http://", "ws://") + "/stream",
        limiter=limiter,
    )


def resting_order() -> OrderRequest:
    """A crypto buy far below the market: it stays open for the whole benchmark."""
    return OrderRequest(
        client_order_id=new_order_id("bench"),
        symbol=SYMBOL,
        side=Side.BUY,
        qty=Decimal("0.001"),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal("1"),
    )


async def requests_per_reconcile(url: str) -> list[tuple[int, int, int, int, int]]:
    """(N, open orders listed, adapter requests, exchange requests, ceil(N/500)) for each N."""
    rows = []
    setup = broker_for(url, RequestBudget(limit=1_000_000, window=60.0))
    measured = broker_for(url)
    admin = httpx.AsyncClient(base_url=url, headers=CONTROL, timeout=30)
    try:
        held: list[str] = []  # client order ids the tracker would hold open
        for n in SIZES:
            while len(held) < n:
                batch = [resting_order() for _ in range(min(50, n - len(held)))]
                await asyncio.gather(*(setup.submit(request) for request in batch))
                held.extend(request.client_order_id for request in batch)
            before_stats = (await admin.get("/qtc/stats")).json()["requests_total"]
            before = measured.requests_sent
            # the tracker's own listing: pages of 500 on submission time
            listed_orders, _ = await list_open_orders(measured, MAX_LIST_LIMIT, held)
            listed = len(listed_orders)
            after_stats = (await admin.get("/qtc/stats")).json()["requests_total"]
            rows.append(
                (
                    n,
                    listed,
                    measured.requests_sent - before,
                    after_stats - before_stats,
                    math.ceil(n / MAX_LIST_LIMIT),
                )
            )
    finally:
        await setup.close()
        await measured.close()
        await admin.aclose()
    return rows


async def _latest_close(admin: httpx.AsyncClient) -> Decimal:
    response = await admin.get(
        "/v1beta3/crypto/us/latest/bars",
        params={"symbols": SYMBOL},
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
    )
    response.raise_for_status()
    return Decimal(str(response.json()["bars"][SYMBOL]["c"]))


async def _executions(admin: httpx.AsyncClient) -> int:
    count: int = (await admin.get("/qtc/executions")).json()["count"]
    return count


async def fill_latencies(
    url: str, data_dir: Path, *, stream: bool, samples: int
) -> list[tuple[float, float]]:
    """Seconds from the exchange filling an order to the fill's line in trades.jsonl, through
    a real OrderTracker, as (upper, lower) bounds: the fill happens inside the POST
    /qtc/advance that completes its minute, so it is timed from that request's start (upper)
    and from its reply (lower; the exchange sends a minute's events before replying)."""
    from qtc.clock import RealClock
    from qtc.domain.signals import OrderIntent
    from qtc.store.files import FileStore
    from qtc.tracking.tracker import OrderTracker

    team = "bench"
    broker = broker_for(url)
    tracker = OrderTracker(
        store=FileStore(data_dir),
        broker=broker,
        clock=RealClock(),
        teams={team: Decimal(100_000_000)},
        reconcile_interval=POLL_INTERVAL,
    )
    trades = data_dir / "team" / team / "trades.jsonl"
    admin = httpx.AsyncClient(base_url=url, headers=CONTROL, timeout=30)
    await tracker.load()
    background = asyncio.create_task(
        tracker.run_stream() if stream else tracker.run_reconcile_loop()
    )
    latencies: list[tuple[float, float]] = []
    jitter = random.Random(1)
    try:
        while len(latencies) < samples:
            close = await _latest_close(admin)
            tracker.set_prices({SYMBOL: close})
            intent = OrderIntent(
                symbol=SYMBOL,
                side=Side.BUY,
                quantity=Decimal("0.0001"),
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.GTC,
                limit_price=close.quantize(Decimal("0.01")),
                requested_price=close,
            )
            await tracker.submit(team, intent)
            if not stream:  # fill at a random phase of the polling interval
                await asyncio.sleep(jitter.uniform(0, POLL_INTERVAL))
            watcher = asyncio.create_task(_line_added(trades, _line_count(trades)))
            for _ in range(20):  # advance until a bar reaches the limit
                before = await _executions(admin)
                sent = time.perf_counter()
                await admin.post("/qtc/advance", json={"minutes": 1})
                replied = time.perf_counter()
                if await _executions(admin) > before:
                    break
            else:
                watcher.cancel()
                continue
            seen = await asyncio.wait_for(watcher, 30)
            latencies.append((seen - sent, max(seen - replied, 0.0)))
    finally:
        background.cancel()
        with suppress(asyncio.CancelledError):
            await background
        await tracker.close()
        await broker.close()
        await admin.aclose()
    return latencies


async def _line_added(path: Path, lines: int) -> float:
    """perf_counter() of the moment `path` has more than `lines` lines (polled every 1 ms)."""
    while _line_count(path) == lines:
        await asyncio.sleep(0.001)
    return time.perf_counter()


def _line_count(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    """Print the Alpaca adapter's numbers against a local `qtc exchange`."""
    with local_exchange("--clock", "accelerated", "--buying-power", "100000000") as url:
        rows = asyncio.run(requests_per_reconcile(url))
    print("REST requests per reconcile cycle (open-order listing, 500 per page)")
    print(f"{'N open':>8} {'listed':>8} {'adapter':>8} {'exchange':>9} {'ceil(N/500)':>12}")
    for n, listed, adapter, exchange, target in rows:
        print(f"{n:>8} {listed:>8} {adapter:>8} {exchange:>9} {target:>12}")
    print()
    print("Exchange fill -> line in trades.jsonl (OrderTracker + FileStore, fsynced)")
    for stream, samples in ((True, 50), (False, 20)):
        with local_exchange("--clock", "manual") as url, tempfile.TemporaryDirectory() as tmp:
            values = asyncio.run(fill_latencies(url, Path(tmp), stream=stream, samples=samples))
        mode = "stream" if stream else f"polling only (every {POLL_INTERVAL:g} s)"
        for name, index in (("from advance sent", 0), ("from advance reply", 1)):
            series = [v[index] for v in values]
            print(
                f"{mode:<26} {name:<19} n={len(series):<3} "
                f"p50={_percentile(series, 0.5) * 1000:7.1f} ms "
                f"p99={_percentile(series, 0.99) * 1000:7.1f} ms"
            )


if __name__ == "__main__":
    main()
