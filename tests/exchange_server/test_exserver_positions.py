"""Positions one by one: get, close (all, by qty, by percentage) and close all, via alpaca-py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    OrderSide,
    OrderStatus,
    OrderType,
    PositionIntent,
    TimeInForce,
)
from alpaca.trading.models import Order
from alpaca.trading.requests import ClosePositionRequest, LimitOrderRequest, MarketOrderRequest

from .conftest import Harness


def _market(symbol: str, qty: float, side: OrderSide) -> MarketOrderRequest:
    tif = TimeInForce.GTC if "/" in symbol else TimeInForce.DAY
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif)


def test_get_open_position_and_404_when_flat(harness: Harness) -> None:
    client = harness.trading
    with pytest.raises(APIError) as missing:
        client.get_open_position("MSFT")
    assert (missing.value.status_code, missing.value.code) == (404, 40410000)
    assert missing.value.message == "position does not exist"
    with pytest.raises(APIError) as unknown:
        client.get_open_position("NOPE")
    assert unknown.value.status_code == 404

    client.submit_order(_market("MSFT", 7, OrderSide.BUY))
    position = client.get_open_position("MSFT")
    assert (position.symbol, position.qty, position.qty_available) == ("MSFT", "7", "7")
    assert client.get_open_position(position.asset_id).symbol == "MSFT"


def test_close_position_by_qty_percentage_and_all(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("AAPL", 10, OrderSide.BUY))

    part = client.close_position("AAPL", ClosePositionRequest(qty="4"))
    assert isinstance(part, Order)
    assert (part.side, part.type, part.qty, part.status) == (
        OrderSide.SELL,
        OrderType.MARKET,
        "4",
        OrderStatus.FILLED,
    )
    assert part.position_intent == PositionIntent.SELL_TO_CLOSE
    assert client.get_open_position("AAPL").qty == "6"

    half = client.close_position("AAPL", ClosePositionRequest(percentage="50"))
    assert half.qty == "3"
    assert client.get_open_position("AAPL").qty == "3"

    rest = client.close_position("AAPL")
    assert rest.qty == "3"
    assert client.get_all_positions() == []
    with pytest.raises(APIError) as flat:
        client.close_position("AAPL")
    assert flat.value.status_code == 404


def test_close_position_covers_a_short_and_refuses_more_than_held(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("MSFT", 5, OrderSide.SELL))
    with pytest.raises(APIError) as too_many:
        client.close_position("MSFT", ClosePositionRequest(qty="6"))
    assert too_many.value.status_code == 403
    assert too_many.value.message == (
        "insufficient qty available for order (requested: 6, available: 5)"
    )
    cover = client.close_position("MSFT")
    assert (cover.side, cover.qty, cover.position_intent) == (
        OrderSide.BUY,
        "5",
        PositionIntent.BUY_TO_CLOSE,
    )
    assert client.get_all_positions() == []


def test_close_all_positions_cancels_orders_and_closes_each(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("AAPL", 3, OrderSide.BUY))
    client.submit_order(_market("MSFT", 2, OrderSide.SELL))
    client.submit_order(_market("BTC/USD", 0.05, OrderSide.BUY))
    resting = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=9999,
        )
    )
    assert client.get_open_position("AAPL").qty_available == "0"

    results = client.close_all_positions(cancel_orders=True)
    by_symbol = {r.symbol: r for r in results}
    assert set(by_symbol) == {"AAPL", "MSFT", "BTCUSD"}
    assert {r.status for r in results} == {200}
    assert by_symbol["MSFT"].body.side == OrderSide.BUY
    assert by_symbol["BTCUSD"].body.qty == "0.05"
    assert client.get_order_by_id(resting.id).status == OrderStatus.CANCELED
    harness.advance(3)  # what the minute's liquidity did not fill at once fills from the bars
    assert client.get_all_positions() == []
    assert Decimal(str(client.get_account().short_market_value)) == 0


def test_close_all_positions_reports_what_open_orders_hold(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("AAPL", 3, OrderSide.BUY))
    client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=9999,
        )
    )
    [result] = client.close_all_positions()
    assert (result.symbol, result.status) == ("AAPL", 403)
    assert result.body.message.startswith("insufficient qty available for order")
    assert client.get_open_position("AAPL").qty == "3"
