"""The local Alpaca-compatible exchange served in a thread on 127.0.0.1, with controls for
the adapter's fault tests."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import Request, Response

from qtc.alpaca.broker import AlpacaBroker, RetryPolicy
from qtc.clock import ManualClock
from qtc.domain.market import Bar
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.engine.minute_stepper import MinuteStepper
from qtc.exchange.server.alpaca_api import create_exchange_app
from qtc.exchange.server.control_token import control_headers
from qtc.exchange.server.faults import Faults
from qtc.exchange.server.thread import ServerThread
from qtc.market.replay import ReplayMarket

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
KEY, SECRET = "alpaca-test-key", "alpaca-test-secret"
CONTROL_TOKEN = "alpaca-test-control-token"


class AlwaysOpen:
    """A calendar without sessions: every symbol trades every minute."""

    def is_open(self, symbol: str, minute: datetime) -> bool:
        return True

    def session_close(self, minute: datetime) -> datetime | None:
        return None


class LocalExchange:
    """One exchange (AAPL at 100, 50 shares a minute) on a free port; `arrivals` holds the
    monotonic time each Alpaca REST request reached it."""

    def __init__(self) -> None:
        engine = ExchangeEngine(
            seed=11, symbols=["AAPL"], buying_power=Decimal("100000"), half_spread_bps=Decimal(0)
        )
        clock = ManualClock(START)
        bars = [
            Bar(
                "AAPL",
                START + timedelta(minutes=i),
                Decimal(100),
                Decimal(101),
                Decimal(99),
                Decimal(100),
                Decimal(50),
            )
            for i in range(60)
        ]
        feed = ReplayMarket(bars)
        stepper = MinuteStepper(
            ExchangeDriver(engine, feed, clock, AlwaysOpen(), start=START), clock
        )
        stepper.advance(1)
        self.engine = engine
        self.app = create_exchange_app(
            engine,
            feed=feed,
            clock=clock,
            api_key=KEY,
            api_secret=SECRET,
            faults=Faults(),
            control_token=CONTROL_TOKEN,
            stepper=stepper,
        )
        self.arrivals: list[float] = []
        self.first_minute = START

        @self.app.middleware("http")
        async def record(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if request.url.path.startswith("/v2/"):
                self.arrivals.append(time.monotonic())
            return await call_next(request)

        self.server = ServerThread(self.app)
        self.port = self.server.port
        self.admin = httpx.Client(
            base_url=self.url, headers=control_headers(CONTROL_TOKEN), timeout=10
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def faults(self, **switches: Any) -> None:
        """Switch faults on (POST /qtc/faults)."""
        self.admin.post("/qtc/faults", json=switches).raise_for_status()

    def advance(self, minutes: int) -> None:
        """Complete `minutes` minutes of the exchange's manual clock (POST /qtc/advance)."""
        self.admin.post("/qtc/advance", json={"minutes": minutes}).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.admin.get("/qtc/stats")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def orders_with_client_id(self, client_order_id: str) -> int:
        """How many orders the exchange holds with this client order id (engine's own view)."""
        return sum(1 for o in self.engine.list("all") if o.client_order_id == client_order_id)

    def broker(self, **options: Any) -> AlpacaBroker:
        """An AlpacaBroker on this exchange with quick retries and reconnects."""
        options.setdefault("retry", RetryPolicy(attempts=6, base_delay=0.02, max_delay=0.1))
        options.setdefault("reconnect_backoff", (0.05, 0.5))
        key = options.pop("key", KEY)
        return AlpacaBroker(
            key,
            SECRET,
            base_url=self.url,
            stream_url=f"ws://127.0.0.1:{self.port}/stream",
            **options,
        )

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.admin.close()
        self.server.stop()


@pytest.fixture
def exchange() -> Iterator[LocalExchange]:
    server = LocalExchange()
    server.start()
    try:
        yield server
    finally:
        server.stop()
