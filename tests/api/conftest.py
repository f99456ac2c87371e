"""A live API over the real order tracker, simulated broker and exchange, on 127.0.0.1.

The stack runs in its own event loop on a background thread (as in `qtc run`, the tracker and
uvicorn share one loop); tests talk HTTP to it and run setup coroutines with `stack.call`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from tests.support.wrapping import Wrapped

from qtc.api.app import create_app
from qtc.api.keys import KeyStore
from qtc.api.server import make_server
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.connection_limits import bind_socket
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.market import Bar
from qtc.domain.orders import Order
from qtc.domain.signals import OrderIntent
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.store.files import FileStore
from qtc.tracking.tracker import OrderTracker

T = TypeVar("T")

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday, market open
PRICES = {"AAPL": Decimal("100"), "NVDA": Decimal("500"), "BTC/USD": Decimal("60000")}
TEAMS = {"alpha": Decimal("100000"), "beta": Decimal("100000")}
DEADLINE = 10.0


@dataclass
class Stack:
    """Everything of one live competition, plus helpers to drive it from a test thread."""

    data_dir: Path
    loop: asyncio.AbstractEventLoop
    clock: ManualClock
    engine: ExchangeEngine
    broker: SimulatedBroker
    tracker: OrderTracker
    keys: KeyStore
    key: dict[str, str]
    base_url: str = ""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    server: Any = None

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine on the stack's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout=DEADLINE)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the live API."""
        return httpx.Client(base_url=self.base_url, timeout=DEADLINE, **kwargs)

    def place(
        self,
        team: str,
        symbol: str,
        side: str,
        qty: str,
        limit: str | None,
        tif: str = "gtc",
    ) -> Order:
        """Submit an order through the tracker (limit when `limit` is given)."""
        price = Decimal(limit) if limit is not None else PRICES[symbol]
        intent = OrderIntent(
            symbol=symbol,
            side=Side(side),
            quantity=Decimal(qty),
            order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
            time_in_force=TimeInForce(tif),
            limit_price=Decimal(limit) if limit is not None else None,
            requested_price=price,
        )
        return self.call(lambda: self.tracker.submit(team, intent))

    def trade_minute(
        self, symbol: str, low: str, high: str, volume: str, close: str | None = None
    ) -> None:
        """One minute bar of `symbol` (opening at its high, closing at `close` or its low)
        reaches the exchange: resting orders match against it."""

        async def step() -> None:
            minute = self.clock.now().replace(second=0, microsecond=0)
            self.clock.advance(timedelta(minutes=1))
            lo, hi = Decimal(low), Decimal(high)
            last = Decimal(close) if close is not None else lo
            bar = Bar(symbol, minute, hi, hi, lo, last, Decimal(volume))
            await self.broker.advance(minute, {symbol: bar})

        self.call(step)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll `condition` on the stack's loop until it holds (or fail after DEADLINE)."""

        async def poll() -> None:
            deadline = self.loop.time() + DEADLINE
            while not condition():
                if self.loop.time() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                await asyncio.sleep(0.005)

        self.call(poll)


async def _start(stack_args: dict[str, Any], app_kwargs: Mapping[str, Any]) -> Stack:
    data_dir: Path = stack_args["data_dir"]
    wrap: Callable[[OrderTracker], Any] = stack_args["wrap"] or (lambda t: t)
    clock = ManualClock(START)
    engine = ExchangeEngine(seed=7, symbols=PRICES)
    for symbol, price in PRICES.items():
        engine.set_price(symbol, price, liquidity=Decimal(0))
    broker = SimulatedBroker(engine, clock)
    tracker = OrderTracker(
        store=FileStore(data_dir),
        broker=broker,
        clock=clock,
        teams=TEAMS,
        **stack_args["tracker_options"],
    )
    await tracker.load()
    keys = KeyStore(data_dir / "api_keys.json")
    stack = Stack(
        data_dir=data_dir,
        loop=asyncio.get_running_loop(),
        clock=clock,
        engine=engine,
        broker=broker,
        tracker=tracker,
        keys=keys,
        key={team: keys.issue(team) for team in TEAMS},
    )
    stack.tasks.append(asyncio.create_task(tracker.run_stream()))
    app = create_app(
        wrap(tracker),
        keys,
        prices=lambda: {s: p for s in PRICES if (p := engine.last_price(s)) is not None},
        snapshots=tracker.store,
        **app_kwargs,
    )
    sock = bind_socket()
    server = make_server(
        app, "127.0.0.1", sock.getsockname()[1], access_log=stack_args["access_log"]
    )
    stack.server = server
    stack.tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not server.started:
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.005)
    stack.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return stack


async def _stop(stack: Stack) -> None:
    stack.server.should_exit = True
    server_task = stack.tasks[-1]
    try:
        await asyncio.wait_for(server_task, timeout=DEADLINE)
    except TimeoutError:
        server_task.cancel()
    for task in stack.tasks[:-1]:
        task.cancel()
    await asyncio.gather(*stack.tasks, return_exceptions=True)
    await stack.broker.close()


def run_stack(
    data_dir: Path,
    *,
    access_log: bool = False,
    wrap: Callable[[OrderTracker], Any] | None = None,
    tracker_options: Mapping[str, Any] | None = None,
    **app_kwargs: Any,
) -> Iterator[Stack]:
    """Start a live stack in a background loop; stop it and its thread afterwards."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-stack", daemon=True)
    thread.start()
    try:
        stack = asyncio.run_coroutine_threadsafe(
            _start(
                {
                    "data_dir": data_dir,
                    "access_log": access_log,
                    "wrap": wrap,
                    "tracker_options": tracker_options or {},
                },
                app_kwargs,
            ),
            loop,
        ).result(timeout=DEADLINE * 3)
        try:
            yield stack
        finally:
            asyncio.run_coroutine_threadsafe(_stop(stack), loop).result(timeout=DEADLINE * 3)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=DEADLINE)
        loop.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A fresh live stack per test (for tests that change orders)."""
    yield from run_stack(tmp_path / "data", sse_heartbeat_seconds=0.2)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start stacks with other app settings (e.g. a low rate limit); all stopped afterwards."""
    running: list[Iterator[Stack]] = []

    def make(**kwargs: Any) -> Stack:
        gen = run_stack(tmp_path / f"data{len(running)}", **kwargs)
        running.append(gen)
        return next(gen)

    try:
        yield make
    finally:
        for gen in running:
            for _ in gen:  # runs the generator's cleanup
                pass


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One live stack for a module's read-mostly tests (a high rate limit for fuzzing)."""
    data_dir = tmp_path_factory.mktemp("api") / "data"
    yield from run_stack(data_dir, rate_limit_per_minute=1_000_000, sse_heartbeat_seconds=0.2)


class CountingTracker(Wrapped):
    """The real tracker, with a count of live event subscriptions."""

    def __init__(self, tracker: OrderTracker) -> None:
        super().__init__(tracker)
        self.subscribers = 0

    def subscribe(self, team_id: str) -> Any:
        self.subscribers += 1
        return self.inner.subscribe(team_id)

    def unsubscribe(self, team_id: str, queue: Any) -> None:
        self.subscribers -= 1
        self.inner.unsubscribe(team_id, queue)


@pytest.fixture
def counted_stack(make_stack: Callable[..., Stack]) -> tuple[Stack, CountingTracker]:
    """A live stack whose API sees the tracker through a subscription counter."""
    made: list[CountingTracker] = []

    def wrap(tracker: OrderTracker) -> CountingTracker:
        made.append(CountingTracker(tracker))
        return made[0]

    stack = make_stack(wrap=wrap, sse_heartbeat_seconds=0.2)
    return stack, made[0]
