"""Shorting, buying power and position intent as Alpaca paper applies them, seen by alpaca-py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    OrderSide,
    OrderStatus,
    PositionIntent,
    PositionSide,
    TimeInForce,
)
from alpaca.trading.models import AccountConfiguration
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from .conftest import Harness


def _market(symbol: str, qty: float, side: OrderSide, tif: TimeInForce = TimeInForce.DAY):
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif)


def _no_shorting(harness: Harness) -> None:
    config = harness.trading.get_account_configurations()
    assert isinstance(config, AccountConfiguration)
    config.no_shorting = True
    harness.trading.set_account_configurations(config)


def test_a_sell_beyond_the_position_is_refused_with_shorting_off(harness: Harness) -> None:
    _no_shorting(harness)
    account = harness.trading.get_account()
    assert account.shorting_enabled is False
    with pytest.raises(APIError) as refused:
        harness.trading.submit_order(_market("MSFT", 1000, OrderSide.SELL))
    assert refused.value.status_code == 403
    assert refused.value.code == 40310000
    assert refused.value.message == (
        "insufficient qty available for order (requested: 1000, available: 0)"
    )
    assert harness.trading.get_all_positions() == []
    assert harness.executions() == []


def test_shares_held_back_by_an_open_sell_are_not_available(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("AAPL", 10, OrderSide.BUY))
    _no_shorting(harness)
    resting = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=8,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=9999,
        )
    )
    assert resting.status == OrderStatus.NEW
    assert resting.position_intent == PositionIntent.SELL_TO_CLOSE
    with pytest.raises(APIError) as refused:
        client.submit_order(_market("AAPL", 3, OrderSide.SELL))
    assert refused.value.status_code == 403
    assert "requested: 3, available: 2" in refused.value.message
    sold = client.submit_order(_market("AAPL", 2, OrderSide.SELL))
    assert sold.status == OrderStatus.FILLED


def test_shorting_is_on_by_default_and_labels_every_intent(harness: Harness) -> None:
    client = harness.trading
    assert client.get_account().shorting_enabled is True
    short = client.submit_order(_market("MSFT", 100, OrderSide.SELL))
    assert (short.status, short.position_intent) == (
        OrderStatus.FILLED,
        PositionIntent.SELL_TO_OPEN,
    )
    position = client.get_open_position("MSFT")
    assert (position.side, position.qty) == (PositionSide.SHORT, "-100")

    cover = client.submit_order(_market("MSFT", 100, OrderSide.BUY))
    assert cover.position_intent == PositionIntent.BUY_TO_CLOSE
    assert client.get_all_positions() == []

    buy = client.submit_order(_market("AAPL", 5, OrderSide.BUY))
    assert buy.position_intent == PositionIntent.BUY_TO_OPEN
    sell = client.submit_order(_market("AAPL", 5, OrderSide.SELL))
    assert sell.position_intent == PositionIntent.SELL_TO_CLOSE


def test_short_proceeds_never_count_as_buying_power(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(_market("MSFT", 100, OrderSide.SELL))
    account = client.get_account()
    cash = Decimal(str(account.cash))
    short_value = Decimal(str(account.short_market_value))
    equity = Decimal(str(account.equity))
    assert short_value < 0
    assert Decimal(str(account.long_market_value)) == 0
    assert equity == cash + short_value
    # cash minus the proceeds, minus the short's 100% margin
    assert Decimal(str(account.buying_power)) == cash + 2 * short_value
    assert Decimal(str(account.buying_power)) < equity < Decimal(100000)

    # a short the account cannot margin is refused, whatever the proceeds would be
    with pytest.raises(APIError) as refused:
        client.submit_order(_market("AAPL", 1000, OrderSide.SELL))
    assert refused.value.status_code == 403
    assert refused.value.message.startswith("insufficient buying power")
    # nor can the proceeds be spent: a buy past buying power but within cash is refused
    one = client.submit_order(_market("AAPL", 1, OrderSide.BUY))
    price = Decimal(str(one.filled_avg_price))
    account = client.get_account()
    qty = int(Decimal(str(account.buying_power)) / price) + 5
    assert qty * price * Decimal("1.01") < Decimal(str(account.cash))
    with pytest.raises(APIError) as refused:
        client.submit_order(_market("AAPL", qty, OrderSide.BUY))
    assert refused.value.message.startswith("insufficient buying power")


def test_an_open_short_sell_reserves_its_margin(harness: Harness) -> None:
    client = harness.trading
    before = Decimal(str(client.get_account().buying_power))
    client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=9999,
        )
    )
    assert Decimal(str(client.get_account().buying_power)) == before - 10 * 9999


def test_crypto_is_never_shorted(harness: Harness) -> None:
    with pytest.raises(APIError) as refused:
        harness.trading.submit_order(_market("BTC/USD", 1, OrderSide.SELL, TimeInForce.GTC))
    assert refused.value.status_code == 403
    assert refused.value.message.startswith("insufficient balance for BTC/USD")
