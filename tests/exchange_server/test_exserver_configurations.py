"""`get/set_account_configurations`: `no_shorting` drives the exchange, the rest is echoed."""

from __future__ import annotations

import requests
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce, TradeConfirmationEmail
from alpaca.trading.models import AccountConfiguration
from alpaca.trading.requests import MarketOrderRequest

from .conftest import Harness


def test_configurations_default_as_alpaca_paper(harness: Harness) -> None:
    config = harness.trading.get_account_configurations()
    assert config.no_shorting is False
    assert config.suspend_trade is False
    assert config.fractional_trading is True


def test_no_shorting_turns_shorting_off_and_on(harness: Harness) -> None:
    client = harness.trading
    config = client.get_account_configurations()
    assert isinstance(config, AccountConfiguration)
    config.no_shorting = True
    config.trade_confirm_email = TradeConfirmationEmail.NONE
    answered = client.set_account_configurations(config)
    assert isinstance(answered, AccountConfiguration)
    assert (answered.no_shorting, answered.trade_confirm_email) == (True, "none")
    assert client.get_account_configurations().trade_confirm_email == "none"
    assert client.get_account().shorting_enabled is False

    config.no_shorting = False
    client.set_account_configurations(config)
    assert client.get_account().shorting_enabled is True
    short = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)
    )
    assert short.status == OrderStatus.FILLED


def test_a_bad_configuration_is_refused_and_changes_nothing(harness: Harness) -> None:
    url = harness.base_url + "/v2/account/configurations"
    for body in ({"no_shorting": True, "max_margin_multiplier": "9"}, {"no_shorting": "yes"}):
        reply = requests.patch(url, json=body, headers=harness.auth_headers(), timeout=10)
        assert reply.status_code == 422
        assert reply.json()["code"] == 40010001
    config = harness.trading.get_account_configurations()
    assert isinstance(config, AccountConfiguration)
    assert (config.no_shorting, config.max_margin_multiplier) == (False, "1")
