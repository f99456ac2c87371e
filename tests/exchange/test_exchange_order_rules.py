"""Alpaca's rules for each order type, time in force and class: every refusal and its message."""

import pytest

from qtc.domain.enums import OrderStatus
from qtc.domain.errors import OrderRejected

CRYPTO = {"symbol": "BTC/USD", "qty": "0.01"}
BRACKET = {"order_class": "bracket", "take_profit": "105", "stop_loss": "95"}

REFUSED = [
    ({"order_type": "stop"}, "stop_price is required for stop orders"),
    ({"order_type": "stop", "stop": "0"}, "stop_price must be > 0"),
    ({"order_type": "stop", "stop": "99.999"}, "invalid stop_price 99.999. sub-penny"),
    ({"order_type": "stop_limit", "stop": "101"}, "limit_price is required for stop_limit"),
    ({"order_type": "stop_limit", "limit": "101"}, "stop_price is required for stop_limit"),
    ({"order_type": "limit"}, "limit_price is required for limit orders"),
    ({"order_type": "trailing_stop"}, "exactly one of trail_price or trail_percent"),
    (
        {"order_type": "trailing_stop", "trail_price": "1", "trail_percent": "1"},
        "exactly one of trail_price or trail_percent",
    ),
    ({"order_type": "trailing_stop", "trail_price": "-1"}, "trail_price must be > 0"),
    ({"order_type": "trailing_stop", "trail_percent": "0"}, "trail_percent must be > 0"),
    ({"order_type": "trailing_stop", "trail_percent": "100"}, "trail_percent must be < 100"),
    ({**CRYPTO, "tif": "day"}, "invalid crypto time_in_force day"),
    ({**CRYPTO, "tif": "gtc", "order_type": "stop", "stop": "50000"}, "invalid crypto order type"),
    (
        {**CRYPTO, "tif": "gtc", "order_type": "trailing_stop", "trail_price": "100"},
        "invalid crypto order type trailing_stop",
    ),
    ({"tif": "opg", "order_type": "stop", "stop": "101"}, "opg orders must be market or limit"),
    ({"tif": "cls", "order_type": "stop", "stop": "101"}, "cls orders must be market or limit"),
    ({"tif": "ioc", "order_type": "stop", "stop": "101"}, "ioc orders must be market or limit"),
    ({"tif": "fok", "order_type": "stop", "stop": "101"}, "fok orders must be market or limit"),
    (
        {"tif": "ioc", "order_type": "trailing_stop", "trail_price": "1"},
        "ioc orders must be market or limit",
    ),
    (
        {"tif": "opg", "order_type": "trailing_stop", "trail_price": "1"},
        "opg orders must be market or limit",
    ),
    ({**BRACKET, "tif": "ioc"}, "bracket orders must be day or gtc"),
    ({**BRACKET, "order_type": "stop", "stop": "101"}, "bracket orders must be market or limit"),
    ({**BRACKET, "take_profit": None}, "bracket orders require take_profit.limit_price"),
    ({**BRACKET, "stop_loss": None}, "bracket orders require stop_loss.stop_price"),
    (
        {**BRACKET, "take_profit": "95", "stop_loss": "105"},
        "take_profit.limit_price must be > stop_loss.stop_price for a buy entry",
    ),
    (
        {**BRACKET, "side": "sell"},
        "take_profit.limit_price must be < stop_loss.stop_price for a sell entry",
    ),
    ({**BRACKET, "stop_loss": "95.001"}, "invalid stop_loss.stop_price 95.001"),
    ({**BRACKET, "take_profit": "100"}, "take_profit.limit_price must be >= base_price + 0.01"),
    (
        {**BRACKET, "order_type": "limit", "limit": "96", "stop_loss": "96"},
        "stop_loss.stop_price must be <= base_price - 0.01",
    ),
    (
        {**BRACKET, "side": "sell", "take_profit": "100", "stop_loss": "101"},
        "take_profit.limit_price must be <= base_price - 0.01",
    ),
    (
        {"order_class": "oto", "side": "sell", "stop_loss": "100"},
        "stop_loss.stop_price must be >= base_price + 0.01",
    ),
    ({**BRACKET, **CRYPTO, "tif": "gtc"}, "bracket orders are not supported for crypto"),
    ({"order_class": "oto"}, "oto orders require exactly one of take_profit or stop_loss"),
    (
        {"order_class": "oto", "take_profit": "105", "stop_loss": "95"},
        "oto orders require exactly one of take_profit or stop_loss",
    ),
    ({"order_class": "oco", "stop_loss": "95"}, "oco orders must be limit orders"),
    ({"order_class": "oco", "order_type": "limit", "limit": "105"}, "oco orders require stop_loss"),
    (
        {
            "order_class": "oco",
            "side": "sell",
            "order_type": "limit",
            "limit": "95",
            "stop_loss": "99",
        },
        "limit_price must be > stop_loss.stop_price for a sell oco order",
    ),
    (
        {"order_class": "oco", "order_type": "limit", "limit": "105", "stop_loss": "99"},
        "limit_price must be < stop_loss.stop_price for a buy oco order",
    ),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED)
def test_order_refused_with_alpacas_reason_and_nothing_changes(kit, fields, message):
    before = (kit.engine.account(), len(kit.engine.list("all")), len(kit.events))
    with pytest.raises(OrderRejected) as raised:
        kit.order(**fields)
    assert message in raised.value.reason
    assert before == (kit.engine.account(), len(kit.engine.list("all")), len(kit.events))


ACCEPTED = [
    {"order_type": "stop", "stop": "101"},
    {"order_type": "stop_limit", "stop": "101", "limit": "101.50"},
    {"order_type": "trailing_stop", "trail_percent": "0.5", "tif": "gtc"},
    {"tif": "opg", "order_type": "limit", "limit": "99"},
    {"tif": "cls"},
    {**CRYPTO, "tif": "gtc", "order_type": "stop_limit", "stop": "50000", "limit": "50100"},
    {**BRACKET, "order_type": "limit", "limit": "99", "stop_loss_limit": "94.50"},
    {"order_class": "oto", "order_type": "limit", "limit": "99", "take_profit": "105"},
    {
        "order_class": "oco",
        "side": "sell",
        "order_type": "limit",
        "limit": "105",
        "stop_loss": "95",
    },
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_allowed_combinations_are_accepted(kit, fields):
    if "BTC/USD" in fields.values():
        kit.engine.set_price("BTC/USD", kit.bar(0, "49000").open)
    assert kit.order(**fields).status in (OrderStatus.NEW, OrderStatus.FILLED)
