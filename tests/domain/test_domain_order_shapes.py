"""Every Alpaca order type and class from a signal: what is accepted, what each rule refuses,
and what each open order reserves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal
from qtc.domain.orders import Order
from qtc.domain.portfolio import reservations
from qtc.domain.signals import OrderIntent, ReplaceIntent, intent_record, validate_signal

UNIVERSE = ["AAPL", "SPY", "BTC/USD"]
PRICES = {"AAPL": Decimal(200), "SPY": Decimal(500), "BTC/USD": Decimal(90000)}
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def intent(**fields: Any) -> OrderIntent:
    raw = {"symbol": "AAPL", "action": "buy", "quantity": 10, **fields}
    result = validate_signal(raw, UNIVERSE, PRICES)
    assert isinstance(result, OrderIntent)
    return result


def refused(**fields: Any) -> str:
    raw = {"symbol": "AAPL", "action": "buy", "quantity": 10, **fields}
    with pytest.raises(InvalidSignal) as info:
        validate_signal(raw, UNIVERSE, PRICES)
    return str(info.value)


def test_old_signals_mean_what_they_meant() -> None:
    market = intent()
    assert (market.order_type, market.limit_price, market.stop_price) == (
        OrderType.MARKET,
        None,
        None,
    )
    assert market.order_class is OrderClass.SIMPLE and market.requested_price == 200
    limit = intent(order_type="limit", price="199.5")
    assert limit.limit_price == Decimal("199.5") and limit.requested_price == Decimal("199.5")


def test_a_stop_expects_to_trade_at_its_stop() -> None:
    stop = intent(order_type="stop", stop_price="210", time_in_force="gtc")
    assert stop.order_type is OrderType.STOP and stop.stop_price == 210
    assert stop.limit_price is None and stop.requested_price == 210


def test_a_stop_limit_has_both_prices() -> None:
    order = intent(order_type="stop_limit", stop_price="210", price="211")
    assert (order.stop_price, order.limit_price, order.requested_price) == (210, 211, 211)


def test_a_trailing_stop_takes_a_trail_in_dollars_or_percent() -> None:
    by_price = intent(action="sell", order_type="trailing_stop", trail_price="2.5")
    assert by_price.trail_price == Decimal("2.5") and by_price.trail_percent is None
    by_percent = intent(action="sell", order_type="trailing_stop", trail_percent="1")
    assert by_percent.trail_percent == 1 and by_percent.requested_price == 200


def test_a_bracket_carries_its_exits() -> None:
    order = intent(
        order_type="limit",
        price="200",
        order_class="bracket",
        take_profit={"limit_price": "220"},
        stop_loss={"stop_price": "190", "limit_price": "189"},
    )
    assert order.order_class is OrderClass.BRACKET
    assert (
        order.take_profit_limit_price,
        order.stop_loss_stop_price,
        order.stop_loss_limit_price,
    ) == (220, 190, 189)
    assert intent_record(order)["order_class"] == "bracket"


def test_an_oco_takes_its_limit_from_the_take_profit() -> None:
    order = intent(
        action="sell",
        order_type="limit",
        order_class="oco",
        time_in_force="gtc",
        take_profit={"limit_price": "220"},
        stop_loss={"stop_price": "190"},
    )
    assert order.limit_price == 220 and order.stop_loss_stop_price == 190


def test_an_oto_has_exactly_one_exit() -> None:
    order = intent(order_class="oto", stop_loss={"stop_price": "190"})
    assert order.stop_loss_stop_price == 190 and order.take_profit_limit_price is None


def test_opg_and_cls_are_for_market_and_limit_equity_orders() -> None:
    assert intent(time_in_force="opg").time_in_force is TimeInForce.OPG
    assert intent(order_type="limit", price=199, time_in_force="cls").time_in_force.value == "cls"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"order_type": "stop"}, "a stop order needs a stop_price"),
        ({"order_type": "stop_limit", "stop_price": 210}, "a stop_limit order needs a price"),
        ({"order_type": "limit", "price": 1, "stop_price": 2}, "a limit order takes no stop_price"),
        (
            {"order_type": "trailing_stop"},
            "a trailing_stop order needs exactly one of trail_price or trail_percent",
        ),
        (
            {"order_type": "trailing_stop", "trail_price": 1, "trail_percent": 1},
            "a trailing_stop order needs exactly one of trail_price or trail_percent",
        ),
        ({"order_type": "trailing_stop", "trail_percent": 100}, "trail_percent must be below 100"),
        (
            {"order_type": "trailing_stop", "trail_price": 1, "time_in_force": "ioc"},
            "a trailing_stop order is day or gtc, not ioc",
        ),
        ({"trail_price": 1}, "a market order takes no trail_price or trail_percent"),
        ({"order_type": "stop", "stop_price": -1}, "stop_price must be positive, got -1"),
        ({"order_type": "stop", "stop_price": "x"}, "stop_price: 'x' is not a number"),
        (
            {"order_type": "stop", "stop_price": 210, "time_in_force": "opg"},
            "time_in_force opg is for market and limit orders, not stop",
        ),
        (
            {"order_type": "stop", "stop_price": 210, "time_in_force": "fok"},
            "time_in_force fok is for market and limit orders, not stop",
        ),
        ({"take_profit": {"limit_price": 220}}, "take_profit and stop_loss need order_class"),
        ({"order_class": "bracket", "take_profit": {"limit_price": 220}}, "a bracket order needs"),
        (
            {
                "order_class": "bracket",
                "take_profit": {"limit_price": 180},
                "stop_loss": {"stop_price": 190},
            },
            "take_profit.limit_price 180 must be above stop_loss.stop_price 190",
        ),
        (
            {
                "order_class": "bracket",
                "time_in_force": "ioc",
                "take_profit": {"limit_price": 220},
                "stop_loss": {"stop_price": 190},
            },
            "a bracket order is day or gtc, not ioc",
        ),
        (
            {
                "order_class": "bracket",
                "order_type": "stop",
                "stop_price": 201,
                "take_profit": {"limit_price": 220},
                "stop_loss": {"stop_price": 190},
            },
            "a bracket order's entry is a market or limit order",
        ),
        ({"order_class": "oto"}, "an oto order needs exactly one of take_profit or stop_loss"),
        (
            {"order_class": "oco", "stop_loss": {"stop_price": 190}},
            "an oco order is a limit order",
        ),
        ({"order_class": "bracket", "take_profit": 5}, "take_profit must be a dict"),
        ({"order_class": "triple"}, "unknown order_class 'triple'"),
    ],
)
def test_each_rule_names_the_problem(fields: dict[str, Any], message: str) -> None:
    assert message in refused(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"order_type": "stop", "stop_price": 1}, "crypto BTC/USD trades market, limit or"),
        ({"time_in_force": "day"}, "crypto BTC/USD trades with time_in_force gtc or ioc"),
        (
            {"order_class": "oto", "stop_loss": {"stop_price": 1}},
            "crypto BTC/USD takes simple orders only, not oto",
        ),
    ],
)
def test_crypto_follows_alpacas_crypto_rules(fields: dict[str, Any], message: str) -> None:
    assert message in refused(symbol="BTC/USD", quantity="0.1", **fields)


def test_a_crypto_stop_limit_is_accepted() -> None:
    order = intent(
        symbol="BTC/USD", quantity="0.1", order_type="stop_limit", stop_price=91000, price=91500
    )
    assert order.time_in_force is TimeInForce.GTC


def test_a_replace_signal_says_what_changes() -> None:
    raw = {"action": "replace", "order_id": "t1-x", "price": "199", "quantity": 5}
    assert validate_signal(raw, UNIVERSE, PRICES) == ReplaceIntent(
        order_id="t1-x", quantity=Decimal(5), limit_price=Decimal(199)
    )
    with pytest.raises(InvalidSignal, match="replace needs at least one of"):
        validate_signal({"action": "replace", "order_id": "t1-x"}, UNIVERSE, PRICES)
    with pytest.raises(InvalidSignal, match="replace takes quantity, price"):
        validate_signal({"action": "replace", "order_id": "t1-x", "symbol": "X"}, UNIVERSE)


def order(**fields: Any) -> Order:
    base: dict[str, Any] = {
        "order_id": "o1",
        "team_id": "t1",
        "symbol": "AAPL",
        "side": Side.BUY,
        "quantity": Decimal(10),
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.DAY,
        "limit_price": None,
        "requested_price": Decimal(200),
        "created_at": NOW,
        "updated_at": NOW,
        "status": OrderStatus.NEW,
    }
    return Order(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "cash"),
    [
        ({}, Decimal("2100.00")),  # 10 x 200 x 1.05
        ({"order_type": OrderType.LIMIT, "limit_price": Decimal(190)}, Decimal(1900)),
        (
            {
                "order_type": OrderType.STOP_LIMIT,
                "stop_price": Decimal(210),
                "limit_price": Decimal(212),
            },
            Decimal(2120),
        ),
        ({"order_type": OrderType.STOP, "stop_price": Decimal(210)}, Decimal("2205.00")),
        ({"order_type": OrderType.STOP, "stop_price": Decimal(150)}, Decimal("2100.00")),
        (
            {"order_type": OrderType.TRAILING_STOP, "trail_price": Decimal(10)},
            Decimal("2205.00"),
        ),
        (
            {"order_type": OrderType.TRAILING_STOP, "trail_percent": Decimal(10)},
            Decimal("2310.000"),
        ),
    ],
)
def test_a_buy_reserves_by_its_type(fields: dict[str, Any], cash: Decimal) -> None:
    assert reservations([order(**fields)], PRICES).cash == cash


def test_a_bracket_reserves_for_its_entry_then_for_one_exit() -> None:
    entry = order(order_id="e", order_class=OrderClass.BRACKET)
    exits = [
        order(
            order_id=name,
            side=Side.SELL,
            parent_id="e",
            status=OrderStatus.HELD,
            order_class=OrderClass.BRACKET,
        )
        for name in ("tp", "sl")
    ]
    held = reservations([entry, *exits], PRICES)
    assert held.cash == Decimal("2100.00") and held.shares == {}
    for leg in exits:
        leg.status = OrderStatus.NEW
    after_entry = reservations(exits, PRICES)  # the entry filled: it is no longer open
    assert after_entry.cash == 0 and after_entry.shares == {"AAPL": Decimal(10)}


def test_a_notional_order_gives_an_amount_and_is_sized_at_the_price() -> None:
    order = intent(quantity=None, notional="1000")
    assert order.notional == 1000 and order.quantity == Decimal(5)  # at 200
    assert intent_record(order)["notional"] == "1000"
    crypto = intent(symbol="BTC/USD", quantity=None, notional="50.5")
    assert crypto.quantity == Decimal("0.000561111")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notional": 100}, "give quantity or notional, not both"),
        ({"quantity": None, "notional": "0.5"}, "notional must be at least 1"),
        ({"quantity": None, "notional": "10.001"}, "with at most 2 decimals"),
        (
            {"quantity": None, "notional": 100, "order_type": "limit", "price": 1},
            "a notional order is a market order, not limit",
        ),
        (
            {"quantity": None, "notional": 100, "time_in_force": "gtc"},
            "a notional order of AAPL is day, not gtc",
        ),
    ],
)
def test_notional_follows_alpacas_rules(fields: dict[str, Any], message: str) -> None:
    assert message in refused(**fields)
