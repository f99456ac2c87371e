"""Assets, the exchange each symbol reports, and both crypto spellings, through alpaca-py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    AssetClass,
    AssetExchange,
    AssetStatus,
    OrderSide,
    OrderStatus,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest, MarketOrderRequest

from qtc.market.calendar import MarketCalendar

from .conftest import Harness, serve_exchange

UNIVERSE = ["SPY", "AAPL", "JPM", "BTC/USD"]


@pytest.fixture
def wide(calendar: MarketCalendar) -> Iterator[Harness]:
    with serve_exchange(calendar, symbols=UNIVERSE) as running:
        yield running


def _buy(symbol: str, qty: float, tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=tif)


def test_positions_report_the_listing_exchange_and_class(wide: Harness) -> None:
    client = wide.trading
    for symbol in ("SPY", "AAPL", "JPM"):
        client.submit_order(_buy(symbol, 2))
    client.submit_order(_buy("BTC/USD", 0.01, TimeInForce.GTC))
    seen = {p.symbol: (p.exchange, p.asset_class) for p in client.get_all_positions()}
    assert seen == {
        "SPY": (AssetExchange.ARCA, AssetClass.US_EQUITY),
        "AAPL": (AssetExchange.NASDAQ, AssetClass.US_EQUITY),
        "JPM": (AssetExchange.NYSE, AssetClass.US_EQUITY),
        "BTCUSD": (AssetExchange.CRYPTO, AssetClass.CRYPTO),
    }


def test_btcusd_and_btc_slash_usd_are_one_symbol(wide: Harness) -> None:
    client = wide.trading
    order = client.submit_order(_buy("BTCUSD", 0.02, TimeInForce.GTC))
    assert (order.status, order.symbol) == (OrderStatus.FILLED, "BTC/USD")
    client.submit_order(_buy("BTC/USD", 0.01, TimeInForce.GTC))
    for spelling in ("BTCUSD", "BTC/USD"):
        position = client.get_open_position(spelling)
        assert (position.symbol, position.qty) == ("BTCUSD", "0.03")
        assert client.get_asset(spelling).symbol == "BTC/USD"
    listed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["BTCUSD"]))
    assert len(listed) == 2


def test_get_asset_by_symbol_or_id_and_404_for_unknown(wide: Harness) -> None:
    client = wide.trading
    spy = client.get_asset("SPY")
    assert (spy.exchange, spy.asset_class, spy.shortable, spy.easy_to_borrow) == (
        AssetExchange.ARCA,
        AssetClass.US_EQUITY,
        True,
        True,
    )
    assert client.get_asset(spy.id).symbol == "SPY"
    btc = client.get_asset("BTC/USD")
    assert (btc.exchange, btc.shortable, btc.marginable) == (AssetExchange.CRYPTO, False, False)
    with pytest.raises(APIError) as missing:
        client.get_asset("NOPE")
    assert (missing.value.status_code, missing.value.code) == (404, 40410000)


def test_get_all_assets_filters_by_class_and_status(wide: Harness) -> None:
    client = wide.trading
    everything = client.get_all_assets()
    assert sorted(a.symbol for a in everything) == sorted(UNIVERSE)
    crypto = client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO))
    assert [a.symbol for a in crypto] == ["BTC/USD"]
    equities = client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.US_EQUITY))
    assert sorted(a.symbol for a in equities) == ["AAPL", "JPM", "SPY"]
    assert client.get_all_assets(GetAssetsRequest(status=AssetStatus.INACTIVE)) == []
