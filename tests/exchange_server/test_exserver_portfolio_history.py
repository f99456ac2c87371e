"""`get_portfolio_history`: the equity the exchange recorded each minute, through alpaca-py."""

from __future__ import annotations

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import GetPortfolioHistoryRequest, MarketOrderRequest

from .conftest import Harness


def test_minute_history_follows_the_account_equity(harness: Harness) -> None:
    client = harness.trading
    client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=50, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    harness.advance(5)
    history = client.get_portfolio_history(
        GetPortfolioHistoryRequest(period="1D", timeframe="1Min")
    )
    assert history.timeframe == "1Min"
    assert len(history.timestamp) == len(history.equity) == 6  # the minute before start, then 5
    assert history.timestamp == sorted(history.timestamp)
    assert {b - a for a, b in zip(history.timestamp, history.timestamp[1:], strict=False)} == {60}
    assert history.equity[-1] == pytest.approx(float(str(client.get_account().equity)))
    assert history.base_value == history.equity[0]
    assert history.profit_loss[-1] == pytest.approx(history.equity[-1] - history.equity[0])


def test_coarser_timeframes_and_days(harness: Harness) -> None:
    harness.advance(30)
    client = harness.trading
    quarter = client.get_portfolio_history(
        GetPortfolioHistoryRequest(period="1D", timeframe="15Min")
    )
    assert {t % 900 for t in quarter.timestamp} == {0}
    assert 2 <= len(quarter.timestamp) <= 4
    daily = client.get_portfolio_history(GetPortfolioHistoryRequest(period="1W", timeframe="1D"))
    assert len(daily.timestamp) == 1
    assert daily.equity[-1] == pytest.approx(float(str(client.get_account().equity)))


def test_a_bad_period_or_timeframe_is_422(harness: Harness) -> None:
    client = harness.trading
    for request in (
        GetPortfolioHistoryRequest(period="1X"),
        GetPortfolioHistoryRequest(timeframe="2Min"),
    ):
        with pytest.raises(APIError) as refused:
            client.get_portfolio_history(request)
        assert refused.value.status_code == 422
