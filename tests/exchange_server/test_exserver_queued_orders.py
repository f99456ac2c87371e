"""Orders sent while the market is closed: `accepted`, queued, `new` at the open, then filled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from tests.support.waiting import wait_until

from qtc.market.calendar import MarketCalendar

from .conftest import Harness, StreamRecorder, serve_exchange

# A Tuesday, 07:00 in New York: two and a half hours before the open (14:30 UTC).
EARLY = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
MINUTES_TO_OPEN = 150


@pytest.fixture
def harness(calendar: MarketCalendar) -> Iterator[Harness]:
    with serve_exchange(calendar, start=EARLY) as running:
        yield running


def _market(symbol: str, qty: float, tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=tif)


def test_a_market_order_before_the_open_waits_for_the_first_bar(
    harness: Harness, recorder: StreamRecorder
) -> None:
    client = harness.trading
    assert client.get_clock().is_open is False
    order = client.submit_order(_market("AAPL", 5))
    recorder.mark_replied(order.id)
    assert (order.status, order.filled_qty) == (OrderStatus.ACCEPTED, "0")

    harness.advance(MINUTES_TO_OPEN)  # the clock is at the open: no bar of the session yet
    assert client.get_order_by_id(order.id).status == OrderStatus.ACCEPTED
    assert recorder.events_for(order.id) == []

    harness.advance(1)  # the first bar of the session
    filled = client.get_order_by_id(order.id)
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, "5")
    wait_until(lambda: recorder.events_for(order.id) == ["new", "fill"], what="new, then fill")
    new = next(u for u in recorder.updates if str(u.event) == "new")
    assert new.timestamp == datetime(2025, 3, 4, 14, 30, tzinfo=UTC)
    assert client.get_open_position("AAPL").qty == "5"


def test_a_queued_order_reserves_buying_power_and_can_be_canceled(harness: Harness) -> None:
    client = harness.trading
    order = client.submit_order(
        LimitOrderRequest(
            symbol="MSFT",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=300,
        )
    )
    assert order.status == OrderStatus.ACCEPTED
    assert Decimal(str(client.get_account().buying_power)) == Decimal(100000) - 3000
    client.cancel_order_by_id(order.id)
    assert client.get_order_by_id(order.id).status == OrderStatus.CANCELED
    assert Decimal(str(client.get_account().buying_power)) == Decimal(100000)
    harness.advance(MINUTES_TO_OPEN + 2)
    assert client.get_order_by_id(order.id).status == OrderStatus.CANCELED
    assert harness.executions() == []


def test_ioc_while_closed_is_refused_and_crypto_trades_as_ever(harness: Harness) -> None:
    client = harness.trading
    with pytest.raises(APIError) as refused:
        client.submit_order(_market("AAPL", 1, TimeInForce.IOC))
    assert refused.value.status_code == 422
    assert "while the market is closed" in refused.value.message
    btc = client.submit_order(_market("BTC/USD", 0.01, TimeInForce.GTC))
    assert btc.status == OrderStatus.FILLED


def test_a_weekend_order_is_accepted_at_the_last_close(calendar: MarketCalendar) -> None:
    saturday = datetime(2025, 3, 8, 17, 0, tzinfo=UTC)
    with serve_exchange(calendar, start=saturday) as weekend:
        order = weekend.trading.submit_order(_market("MSFT", 2))
        assert order.status == OrderStatus.ACCEPTED
        assert Decimal(str(weekend.trading.get_account().buying_power)) < Decimal(100000)
