"""Fixtures: a local exchange on a free 127.0.0.1 port, driven by the real alpaca-py clients."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from tests.support.waiting import wait_until

from qtc.exchange.server.local_exchange import ExchangeConfig, LocalExchange, build_local_exchange
from qtc.exchange.server.thread import ServerThread
from qtc.market.calendar import MarketCalendar

KEY = "test-key"
SECRET = "test-secret"
# A Tuesday, 10:00 in New York: equities and crypto both trade.
START = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
SYMBOLS = ["AAPL", "MSFT", "BTC/USD"]


@dataclass
class Harness:
    """A running exchange and the ways a test talks to it."""

    exchange: LocalExchange
    server: ServerThread
    trading: TradingClient

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def auth_headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A `/qtc/*` request with the exchange's control token."""
        headers = self.exchange.control_headers
        return requests.request(method, self.base_url + path, headers=headers, timeout=10, **kwargs)

    def advance(self, minutes: int = 1) -> dict[str, Any]:
        reply = self.control("POST", "/qtc/advance", json={"minutes": minutes})
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def faults(self, **switches: Any) -> requests.Response:
        return self.control("POST", "/qtc/faults", json=switches)

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self.control("GET", "/qtc/stats").json()
        return body

    def executions(self) -> list[dict[str, Any]]:
        body = self.control("GET", "/qtc/executions").json()
        executions: list[dict[str, Any]] = body["executions"]
        return executions


@dataclass
class StreamRecorder:
    """A TradingStream running on its own thread, recording every update it parses."""

    stream: TradingStream
    updates: list[TradeUpdate] = field(default_factory=list)
    replied: set[str] = field(default_factory=set)
    # (event, order id, whether the submit's HTTP reply had already come back)
    arrivals: list[tuple[str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, update: TradeUpdate) -> None:
        with self.lock:
            order_id = str(update.order.id)
            self.updates.append(update)
            self.arrivals.append((str(update.event), order_id, order_id in self.replied))

    def events_for(self, order_id: Any) -> list[str]:
        with self.lock:
            return [str(u.event) for u in self.updates if str(u.order.id) == str(order_id)]

    def mark_replied(self, order_id: Any) -> None:
        with self.lock:
            self.replied.add(str(order_id))


@pytest.fixture(scope="session")
def calendar() -> MarketCalendar:
    return MarketCalendar(start=date(2025, 1, 1), end=date(2025, 12, 31))


@contextlib.contextmanager
def serve_exchange(
    calendar: MarketCalendar, start: datetime = START, symbols: list[str] | None = None
) -> Iterator[Harness]:
    """A manual-clock exchange at `start` trading `symbols` (default SYMBOLS), served."""
    config = ExchangeConfig(
        seed=7,
        clock="manual",
        start=start,
        symbols=symbols or SYMBOLS,
        api_key=KEY,
        api_secret=SECRET,
    )
    exchange = build_local_exchange(config, calendar=calendar)
    server = ServerThread(exchange.app).start()
    try:
        trading = TradingClient(KEY, SECRET, paper=True, url_override=server.base_url)
        yield Harness(exchange, server, trading)
    finally:
        server.stop()


@pytest.fixture
def harness(calendar: MarketCalendar) -> Iterator[Harness]:
    with serve_exchange(calendar) as running:
        yield running


@pytest.fixture
def recorder(harness: Harness) -> Iterator[StreamRecorder]:
    stream = TradingStream(KEY, SECRET, paper=True, url_override=harness.server.stream_url)
    recorder = StreamRecorder(stream)
    stream.subscribe_trade_updates(recorder.handle)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: harness.stats()["stream"]["connections"] == 1, what="the stream to listen"
        )
        yield recorder
    finally:
        if stream._loop is not None:
            stream.stop()
        # The client only notices a stop between messages; closing the socket wakes it.
        harness.faults(drop_stream=True)
        thread.join(10)
        assert not thread.is_alive(), "TradingStream did not stop"
