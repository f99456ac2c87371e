"""AlpacaMarketFeed and AlpacaBroker built from Settings, reading the local exchange."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from qtc.alpaca.broker import AlpacaBroker
from qtc.alpaca.budget import RequestBudget
from qtc.alpaca.feed import AlpacaMarketFeed
from qtc.settings import Settings
from qtc.wiring import alpaca_config


def settings_for(exchange: Any) -> Settings:
    return Settings.model_validate(
        {
            "ALPACA_API_KEY": "alpaca-test-key",
            "ALPACA_API_SECRET": "alpaca-test-secret",
            "ALPACA_BASE_URL": exchange.url,
            "ALPACA_STREAM_URL": f"ws://127.0.0.1:{exchange.port}/stream",
            "ALPACA_DATA_URL": exchange.url,
        }
    )


async def test_the_feed_serves_the_latest_minute_and_history_through_the_limiter(
    exchange: Any,
) -> None:
    limiter = RequestBudget()
    feed = AlpacaMarketFeed.from_config(alpaca_config(settings_for(exchange)), ["AAPL"], limiter)
    assert feed.universe == ["AAPL"]
    exchange.advance(4)  # the exchange's clock is now its first minute + 5
    start = exchange.first_minute
    await feed.refresh(start + timedelta(minutes=4))
    bars = feed.bars_at(start + timedelta(minutes=4))
    assert bars["AAPL"].close == Decimal(100)
    assert bars["AAPL"].volume == Decimal(50)
    history = feed.history("AAPL", start + timedelta(minutes=4), 3)
    assert [b.timestamp for b in history] == [start + timedelta(minutes=m) for m in (1, 2, 3)]
    assert feed.last_price("AAPL", start + timedelta(minutes=5)) == Decimal(100)
    assert limiter.requests >= 2
    assert exchange.stats()["requests_total"] == limiter.requests


async def test_the_broker_is_built_from_the_settings(exchange: Any) -> None:
    broker = AlpacaBroker.from_config(alpaca_config(settings_for(exchange)))
    try:
        assert broker.name == "alpaca"
        assert await broker.list_orders("all") == []
        assert broker.limiter.limit == 190
    finally:
        await broker.close()
