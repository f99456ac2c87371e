"""Clock, account and minute bars through alpaca-py's trading and data clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import requests
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestBarRequest,
    StockBarsRequest,
    StockLatestBarRequest,
)
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import MarketOrderRequest

from qtc.exchange.server.local_exchange import ExchangeConfig, build_local_exchange
from qtc.exchange.server.thread import ServerThread
from qtc.market.calendar import MarketCalendar

from .conftest import KEY, SECRET, START, Harness, wait_until


def test_clock_follows_the_manual_clock_and_the_calendar(harness: Harness) -> None:
    clock = harness.trading.get_clock()
    assert clock.timestamp == START
    assert clock.is_open is True
    assert clock.next_close == datetime(2025, 3, 4, 21, 0, tzinfo=UTC)
    assert clock.next_open == datetime(2025, 3, 5, 14, 30, tzinfo=UTC)
    harness.advance(6 * 60 + 5)  # past the 16:00 New York close
    after_close = harness.trading.get_clock()
    assert after_close.is_open is False
    assert after_close.next_open == datetime(2025, 3, 5, 14, 30, tzinfo=UTC)


def test_account_starts_with_its_buying_power(harness: Harness) -> None:
    account = harness.trading.get_account()
    assert account.status == "ACTIVE"
    assert Decimal(str(account.cash)) == Decimal("100000")
    assert Decimal(str(account.buying_power)) == Decimal("100000")
    assert harness.trading.get_all_positions() == []


def test_stock_bars_and_latest_bar_come_from_the_feed(harness: Harness) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=harness.base_url)
    start = START - timedelta(minutes=10)
    bars = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute, start=start
        )
    )
    feed = harness.exchange.feed
    expected = feed.history("AAPL", START, 10)
    assert [b.timestamp for b in bars.data["AAPL"]] == [b.timestamp for b in expected]
    assert [Decimal(str(b.close)) for b in bars.data["AAPL"]] == [b.close for b in expected]
    assert len(bars.data["MSFT"]) == 10
    harness.advance(2)
    latest = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))
    assert latest["AAPL"].timestamp == START + timedelta(minutes=1)


def test_bars_never_come_from_the_future(harness: Harness) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=harness.base_url)
    bars = data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL",
            timeframe=TimeFrame.Minute,
            start=START - timedelta(minutes=2),
            end=START + timedelta(hours=2),
        )
    )
    assert max(b.timestamp for b in bars.data["AAPL"]) == START - timedelta(minutes=1)


def test_crypto_bars_page_with_tokens(harness: Harness) -> None:
    data = CryptoHistoricalDataClient(KEY, SECRET, url_override=harness.base_url)
    start = START - timedelta(minutes=30)
    bars = data.get_crypto_bars(
        CryptoBarsRequest(symbol_or_symbols="BTC/USD", timeframe=TimeFrame.Minute, start=start)
    )
    assert len(bars.data["BTC/USD"]) == 30
    latest = data.get_crypto_latest_bar(CryptoLatestBarRequest(symbol_or_symbols="BTC/USD"))
    assert latest["BTC/USD"].timestamp == START - timedelta(minutes=1)

    url = f"{harness.base_url}/v1beta3/crypto/us/bars"
    params = {"symbols": "BTC/USD", "timeframe": "1Min", "start": start.isoformat(), "limit": "20"}
    headers = harness.auth_headers()
    first = requests.get(url, params=params, headers=headers, timeout=10).json()
    assert len(first["bars"]["BTC/USD"]) == 20 and first["next_page_token"]
    params["page_token"] = first["next_page_token"]
    second = requests.get(url, params=params, headers=headers, timeout=10).json()
    assert len(second["bars"]["BTC/USD"]) == 10 and second["next_page_token"] is None
    stamps = [b["t"] for b in first["bars"]["BTC/USD"] + second["bars"]["BTC/USD"]]
    assert stamps == sorted(set(stamps))


def test_only_minute_bars_are_served(harness: Harness) -> None:
    reply = requests.get(
        f"{harness.base_url}/v2/stocks/bars",
        params={"symbols": "AAPL", "timeframe": "1Day"},
        headers=harness.auth_headers(),
        timeout=10,
    )
    assert reply.status_code == 422
    assert "1Min" in reply.json()["message"]


def test_accelerated_clock_feeds_minutes_by_itself(calendar: MarketCalendar) -> None:
    config = ExchangeConfig(
        clock="accelerated", ms_per_minute=20, start=START, api_key=KEY, api_secret=SECRET
    )
    exchange = build_local_exchange(config, calendar=calendar)
    with ServerThread(exchange.app) as server:
        client = TradingClient(KEY, SECRET, paper=True, url_override=server.base_url)
        order = client.submit_order(
            MarketOrderRequest(symbol="BTC/USD", qty=0.3, side="buy", time_in_force="gtc")
        )
        assert order.status == "partially_filled"
        wait_until(
            lambda: client.get_order_by_id(order.id).status == "filled", what="later minutes"
        )
        refused = requests.post(
            f"{server.base_url}/qtc/advance",
            json={"minutes": 1},
            headers=exchange.control_headers,
            timeout=10,
        )
        assert refused.status_code == 409
    assert exchange.clock.now() > START + timedelta(minutes=1)
