"""Two venues behind one interface: the simulated broker in-process, and AlpacaBroker (the
real alpaca-py client) talking to the local Alpaca-compatible exchange over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx
import pytest

from qtc.alpaca.broker import AlpacaBroker, RetryPolicy
from qtc.brokers.base import Broker
from qtc.brokers.simulated import SimulatedBroker
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
MINUTES = 120
STOCK = "AAPL"
CRYPTO = "BTC/USD"
MOVER = "MSFT"
LATE = "SPY"  # its market opens at minute LATE_OPEN: orders sent before wait for it
LATE_OPEN = 40
BUYING_POWER = Decimal("100000")
KEY, SECRET = "contract-key", "contract-secret"
CONTROL_TOKEN = "contract-control-token"


def market_bars() -> list[Bar]:
    """Flat, known bars: AAPL trades 99..101 (open/close 100) with 50 shares a minute, so a
    resting buy at 99.50 takes 5 shares (10% participation) each minute; BTC/USD likewise."""
    bars = []
    for i in range(MINUTES):
        t = START + timedelta(minutes=i)
        bars.append(
            Bar(STOCK, t, Decimal(100), Decimal(101), Decimal(99), Decimal(100), Decimal(50))
        )
        bars.append(
            Bar(
                CRYPTO,
                t,
                Decimal(50000),
                Decimal(50100),
                Decimal(49900),
                Decimal(50000),
                Decimal("2"),
            )
        )
        bars.append(mover_bar(i, t))
        bars.append(late_bar(i, t))
    return bars


def late_bar(i: int, t: datetime) -> Bar:
    """SPY closes at 50 every minute before its open; from minute LATE_OPEN it opens at 52."""
    d = Decimal
    if i < LATE_OPEN:
        return Bar(LATE, t, d(50), d(50), d(50), d(50), d(1000))
    return Bar(LATE, t, d(52), d("52.5"), d("51.5"), d(52), d(1000))


def mover_bar(i: int, t: datetime) -> Bar:
    """MSFT's known path, 1,000 shares a minute (100 for us): minutes 0-9 open and close 100
    within 99..101; 10-19 rise a dollar a minute (open 100+k, close 101+k, 0.20 beyond each);
    20-29 fall a dollar a minute (open 110-k, close 109-k); minute 30 gaps down to open 95
    (94..95.50, close 95); flat at 95 after."""
    d = Decimal
    if i < 10:
        o, h, low, c = d(100), d(101), d(99), d(100)
    elif i < 20:
        o = d(100 + i - 10)
        c = o + 1
        h, low = c + d("0.2"), o - d("0.2")
    elif i < 30:
        o = d(110 - (i - 20))
        c = o - 1
        h, low = o + d("0.2"), c - d("0.2")
    elif i == 30:
        o, h, low, c = d(95), d("95.5"), d(94), d(95)
    else:
        o = h = low = c = d(95)
    return Bar(MOVER, t, o, h, low, c, d(1000))


class LateOpen:
    """A calendar where every symbol trades every minute except LATE, which opens at minute
    LATE_OPEN; no day ever ends."""

    def is_open(self, symbol: str, minute: datetime) -> bool:
        return symbol != LATE or minute >= START + timedelta(minutes=LATE_OPEN)

    def session_close(self, minute: datetime) -> datetime | None:
        return None


def new_exchange() -> tuple[ExchangeEngine, ManualClock, ReplayMarket, MinuteStepper]:
    """A fresh engine whose first minute has traded (so market orders have a price)."""
    calendar = LateOpen()
    engine = ExchangeEngine(
        seed=7,
        symbols=[STOCK, CRYPTO, MOVER, LATE],
        buying_power=BUYING_POWER,
        participation=Decimal("0.1"),
        half_spread_bps=Decimal(0),
        sessions=calendar,
    )
    clock = ManualClock(START)
    feed = ReplayMarket(market_bars())
    driver = ExchangeDriver(engine, feed, clock, calendar, start=START)
    stepper = MinuteStepper(driver, clock)
    stepper.advance(1)
    return engine, clock, feed, stepper


class Venue(Protocol):
    """A broker under test plus the exchange's controls."""

    @property
    def broker(self) -> Broker: ...

    async def advance(self, minutes: int = 1) -> None: ...

    async def executions(self, client_order_id: str) -> list[dict[str, Any]]: ...


@dataclass
class SimulatedVenue:
    """SimulatedBroker over an in-process engine; time moves through the same stepper."""

    broker: SimulatedBroker
    stepper: MinuteStepper
    engine: ExchangeEngine

    async def advance(self, minutes: int = 1) -> None:
        self.stepper.advance(minutes)

    async def executions(self, client_order_id: str) -> list[dict[str, Any]]:
        return [
            {"client_order_id": e.client_order_id, "qty": str(e.qty), "price": str(e.price)}
            for e in self.engine.executions
            if e.client_order_id == client_order_id
        ]


def exchange_app() -> Any:
    """The local Alpaca-compatible exchange over a fresh engine, time moved by /qtc/advance."""
    engine, clock, feed, stepper = new_exchange()
    return create_exchange_app(
        engine,
        feed=feed,
        clock=clock,
        api_key=KEY,
        api_secret=SECRET,
        faults=Faults(),
        control_token=CONTROL_TOKEN,
        stepper=stepper,
    )


@dataclass
class AlpacaVenue:
    """AlpacaBroker ↔ the local exchange; time moves by POST /qtc/advance."""

    broker: AlpacaBroker
    admin: httpx.AsyncClient

    async def advance(self, minutes: int = 1) -> None:
        response = await self.admin.post("/qtc/advance", json={"minutes": minutes})
        response.raise_for_status()

    async def executions(self, client_order_id: str) -> list[dict[str, Any]]:
        response = await self.admin.get(
            "/qtc/executions", params={"client_order_id_prefix": client_order_id}
        )
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["executions"]
        return [e for e in found if e["client_order_id"] == client_order_id]


def alpaca_broker(url: str, **options: Any) -> AlpacaBroker:
    """An AlpacaBroker pointed at a local exchange, with quick retries for tests."""
    options.setdefault("retry", RetryPolicy(attempts=6, base_delay=0.05, max_delay=1.0))
    options.setdefault("reconnect_backoff", (0.05, 0.5))
    return AlpacaBroker(
        KEY,
        SECRET,
        base_url=url,
        stream_url=url.replace("http://", "ws://") + "/stream",
        **options,
    )


@pytest.fixture
def exchange_server() -> Iterator[ServerThread]:
    with ServerThread(exchange_app()) as server:
        yield server


@pytest.fixture(params=["simulated", "alpaca"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    if request.param == "simulated":
        engine, clock, _, stepper = new_exchange()
        broker = SimulatedBroker(engine, clock)
        try:
            yield SimulatedVenue(broker, stepper, engine)
        finally:
            await broker.close()
        return
    server: ServerThread = request.getfixturevalue("exchange_server")
    alpaca = alpaca_broker(server.base_url)
    admin = httpx.AsyncClient(
        base_url=server.base_url, headers=control_headers(CONTROL_TOKEN), timeout=10
    )
    try:
        yield AlpacaVenue(alpaca, admin)
    finally:
        await alpaca.close()
        await admin.aclose()
