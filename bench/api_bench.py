"""Benchmark: `GET /api/v1/team/{team}/orders/open` for 1,000 teams x 10 open orders.

The API runs as in `qtc run` (uvicorn and the real tracker over the simulated broker in one
event loop, with a stand-in orchestrator moving the market and replacing orders meanwhile);
the load comes from a separate process of raw keep-alive HTTP/1.1 connections on 127.0.0.1.

Run: python -m bench api   (or python -m bench.api_bench). Prints a table; asserts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

TEAMS = 1000
ORDERS_PER_TEAM = 10
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG")
T0 = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
SATURATION_CONNECTIONS = 32
RATE = 1000.0  # requests/s offered in the fixed-rate phase
RATE_CONNECTIONS = 100
PHASE_SECONDS = 4.0
WARMUP_SECONDS = 0.5


# ----- the load process -------------------------------------------------------------------


def _request(team: str, key: str) -> bytes:
    return (
        f"GET /api/v1/team/{team}/orders/open HTTP/1.1\r\nHost: bench\r\nX-API-Key: {key}\r\n\r\n"
    ).encode()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    """Send one request on a keep-alive connection and read the whole answer; its status."""
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _saturate(
    host: str, port: int, keys: dict[str, str], seconds: float
) -> tuple[list[float], int, float]:
    """Closed loop: every connection sends its next request as soon as the last is answered."""
    teams = list(keys)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + WARMUP_SECONDS
    end = measure_from + seconds

    async def connection(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (now := time.perf_counter()) < end:
                team = rng.choice(teams)
                status = await _exchange(reader, writer, _request(team, keys[team]))
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append(done - now)
                    errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(connection(i) for i in range(SATURATION_CONNECTIONS)))
    return latencies, errors, seconds


async def _fixed_rate(
    host: str, port: int, keys: dict[str, str], rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Open loop: requests are due at a fixed rate; latency counts from when each was due,
    so a slow server cannot hide its queue (no coordinated omission)."""
    teams = list(keys)
    rng = random.Random(7)
    total = int(rate * (seconds + WARMUP_SECONDS))
    start = time.perf_counter() + 0.2
    due = asyncio.Queue[float]()
    for i in range(total):
        due.put_nowait(start + i / rate)
    latencies: list[float] = []
    errors = 0
    measure_from = start + WARMUP_SECONDS

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not due.empty():
                when = due.get_nowait()
                delay = when - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                team = rng.choice(teams)
                status = await _exchange(reader, writer, _request(team, keys[team]))
                if when >= measure_from:
                    latencies.append(time.perf_counter() - when)
                    errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(RATE_CONNECTIONS)))
    return latencies, errors, time.perf_counter() - measure_from


def _summary(name: str, result: tuple[list[float], int, float]) -> dict[str, Any]:
    latencies, errors, seconds = result
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "phase": name,
        "requests": len(ordered),
        "errors": errors,
        "rps": len(ordered) / seconds if seconds > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": ordered[-1] * 1000 if ordered else 0.0,
    }


def load_main() -> None:
    """The load process: read {host, port, keys} on stdin, print one JSON line per phase."""
    spec = json.loads(sys.stdin.read())
    host, port, keys = spec["host"], spec["port"], spec["keys"]
    for name, phase in (
        (
            f"{SATURATION_CONNECTIONS} conns, closed loop",
            _saturate(host, port, keys, PHASE_SECONDS),
        ),
        (
            f"{RATE_CONNECTIONS} conns, {RATE:,.0f} req/s offered",
            _fixed_rate(host, port, keys, RATE, PHASE_SECONDS),
        ),
    ):
        print(json.dumps(_summary(name, asyncio.run(phase))), flush=True)


# ----- the server process -----------------------------------------------------------------


async def _build(data_dir: Path) -> dict[str, Any]:
    """Tracker + simulated broker with TEAMS x ORDERS_PER_TEAM open orders, keys, app, server."""
    from qtc.api.app import create_app
    from qtc.api.keys import KeyStore
    from qtc.api.server import make_server
    from qtc.brokers.simulated import SimulatedBroker
    from qtc.clock import ManualClock
    from qtc.connection_limits import bind_socket
    from qtc.domain.enums import OrderType, Side, TimeInForce
    from qtc.domain.signals import OrderIntent
    from qtc.exchange.engine.matching import ExchangeEngine
    from qtc.store.files import FileStore
    from qtc.tracking.tracker import OrderTracker

    clock = ManualClock(T0)
    engine = ExchangeEngine(seed=1, symbols=SYMBOLS, buying_power=Decimal("1e9"))
    for symbol in SYMBOLS:
        engine.set_price(symbol, Decimal(100), liquidity=Decimal(0))
    broker = SimulatedBroker(engine, clock)
    teams = [f"t{i:04d}" for i in range(TEAMS)]
    tracker = OrderTracker(
        store=FileStore(data_dir),
        broker=broker,
        clock=clock,
        teams={t: Decimal(1_000_000) for t in teams},
    )
    await tracker.load()

    def intent(k: int) -> OrderIntent:
        price = Decimal(80 + k % 10)
        return OrderIntent(
            symbol=SYMBOLS[k % len(SYMBOLS)],
            side=Side.BUY,
            quantity=Decimal(1 + k % 7),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            limit_price=price,
            requested_price=price,
        )

    for k in range(ORDERS_PER_TEAM):
        for team in teams:
            await tracker.submit(team, intent(k))
    tracker.flush()
    keys_store = KeyStore(data_dir / "api_keys.json")
    keys = {team: keys_store.issue(team) for team in teams}
    app = create_app(
        tracker,
        keys_store,
        prices=lambda: {s: p for s in SYMBOLS if (p := engine.last_price(s)) is not None},
    )
    sock = bind_socket()
    server = make_server(app, "127.0.0.1", sock.getsockname()[1])
    return {
        "tracker": tracker,
        "broker": broker,
        "clock": clock,
        "keys": keys,
        "teams": teams,
        "server": server,
        "sock": sock,
        "intent": intent,
    }


class StandInOrchestrator:
    """Once a second a market minute passes (the exchange matches every resting order) and
    five teams replace an order (cancel one, place one), yielding to the loop between steps
    as the real orchestrator does while it waits on strategies and the broker."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts
        self.stop = asyncio.Event()
        self.minutes = 0
        self.replaced = 0
        self.longest_step = 0.0

    def _timed(self, started: float) -> None:
        self.longest_step = max(self.longest_step, time.perf_counter() - started)

    async def run(self) -> None:
        from qtc.domain.market import Bar

        tracker, broker, clock = self.parts["tracker"], self.parts["broker"], self.parts["clock"]
        rng = random.Random(3)
        while not self.stop.is_set():
            minute = clock.now()
            clock.advance(timedelta(minutes=1))
            price = Decimal(100) + Decimal(rng.randint(0, 50)) / 10
            bars = {s: Bar(s, minute, price, price, price, price, Decimal(10_000)) for s in SYMBOLS}
            started = time.perf_counter()
            await broker.advance(minute, bars)
            self._timed(started)
            for team in rng.sample(self.parts["teams"], 5):
                await asyncio.sleep(0)
                started = time.perf_counter()
                oldest = tracker.open_orders(team)[0]
                await tracker.cancel(team, oldest.order_id)
                await tracker.submit(team, self.parts["intent"](rng.randrange(10)))
                self._timed(started)
                self.replaced += 1
            tracker.flush()
            self.minutes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=1.0)


def _load(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the load process once; its phases' summaries."""
    done = subprocess.run(
        [sys.executable, __file__, "--load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"load process failed: {done.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def main() -> None:
    """Build, serve, load from a separate process (API alone, then beside the orchestrator
    stand-in), print the numbers."""
    logging.basicConfig(level=logging.WARNING)
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="qtc-api-bench-", dir=shm if shm.is_dir() else None))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-bench", daemon=True)
    thread.start()

    def call(coro: Any, timeout: float = 900) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    try:
        started = time.perf_counter()
        parts = call(_build(root / "data"))
        # what `qtc run` should do once loaded: the loaded state is long-lived, so keep it out
        # of the cyclic collector's full passes (each one stalls the event loop for ~50 ms)
        gc.collect()
        gc.freeze()
        print(
            f"setup: {TEAMS} teams x {ORDERS_PER_TEAM} open orders through the tracker "
            f"in {time.perf_counter() - started:.1f} s"
        )
        server, sock = parts["server"], parts["sock"]
        orchestrator = StandInOrchestrator(parts)

        async def start_server() -> asyncio.Task[None]:
            task = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                await asyncio.sleep(0.01)
            return task

        async def start_orchestrator() -> tuple[asyncio.Task[None], asyncio.Task[None]]:
            stream = asyncio.create_task(parts["tracker"].run_stream())
            return stream, asyncio.create_task(orchestrator.run())

        serve_task = call(start_server())
        spec = {"host": "127.0.0.1", "port": sock.getsockname()[1], "keys": parts["keys"]}
        alone = _load(spec)
        stream_task, orchestrator_task = call(start_orchestrator())
        beside = _load(spec)

        async def stop_all() -> None:
            orchestrator.stop.set()
            await orchestrator_task
            stream_task.cancel()
            server.should_exit = True
            await serve_task
            await parts["tracker"].close()
            await parts["broker"].close()

        call(stop_all())
        header = f"{'':<24} {'load':<32} {'requests':>9} {'errors':>6} {'req/s':>8}"
        print(f"{header} {'p50 ms':>7} {'p99 ms':>7}")
        for label, rows in (("API alone", alone), ("beside the orchestrator", beside)):
            for r in rows:
                print(
                    f"{label:<24} {r['phase']:<32} {r['requests']:>9,} {r['errors']:>6} "
                    f"{r['rps']:>8,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f}"
                )
        print(
            f"the orchestrator stand-in ran {orchestrator.minutes} market minutes, replaced "
            f"{orchestrator.replaced} orders; its longest blocking step took "
            f"{orchestrator.longest_step * 1000:.1f} ms (exchange matching / submit over "
            f"{TEAMS * ORDERS_PER_TEAM:,} resting orders)"
        )
        print("targets: p99 < 20 ms at >= 1,000 req/s")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--load"]:
        load_main()
    else:
        main()
