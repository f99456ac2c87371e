"""Signal validation: every problem gets its own clear message, good signals become intents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qtc.domain.decimals import dec_str, to_decimal
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import InvalidSignal
from qtc.domain.signals import CancelIntent, OrderIntent, normalize_signals, validate_signal

UNIVERSE = ["AAPL", "NVDA", "BTC/USD"]
PRICES = {"AAPL": Decimal("230.5"), "BTC/USD": Decimal(95000)}


def signal(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"symbol": "AAPL", "action": "buy", "quantity": 10, "price": 230}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def check(raw: Any) -> OrderIntent:
    intent = validate_signal(raw, UNIVERSE, PRICES)
    assert isinstance(intent, OrderIntent)
    return intent


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (signal(symbol="XYZ"), "unknown symbol 'XYZ'"),
        (signal(symbol=None), "unknown symbol None"),
        (signal(action="hold"), "action must be 'buy', 'sell', 'cancel' or 'replace', got 'hold'"),
        (signal(action=None), "action must be 'buy', 'sell', 'cancel' or 'replace', got None"),
        (signal(quantity=0), "quantity must be positive, got 0"),
        (signal(quantity=-5), "quantity must be positive, got -5"),
        (signal(quantity=float("nan")), "quantity: nan is not a finite number"),
        (signal(quantity="NaN"), "quantity: 'NaN' is not a finite number"),
        (signal(quantity=float("inf")), "quantity: inf is not a finite number"),
        (signal(quantity="1.0000000001"), "quantity 1.0000000001 has more than 9 decimals"),
        (signal(quantity="ten"), "quantity: 'ten' is not a number"),
        (signal(quantity=[1]), "quantity: list is not a number"),
        (signal(quantity=True), "quantity: True is a boolean, not a number"),
        (signal(quantity=...), "quantity is missing"),
        (signal(price=0), "price must be positive, got 0"),
        (signal(price=-1.5), "price must be positive, got -1.5"),
        (signal(price=float("inf")), "price: inf is not a finite number"),
        (signal(price="abc"), "price: 'abc' is not a number"),
        (
            signal(order_type="iceberg"),
            "unknown order_type 'iceberg' "
            "(expected one of market, limit, stop, stop_limit, trailing_stop)",
        ),
        (
            signal(time_in_force="gtd"),
            "unknown time_in_force 'gtd' (expected one of day, gtc, ioc, fok, opg, cls)",
        ),
        (
            signal(symbol="BTC/USD", time_in_force="day"),
            "crypto BTC/USD trades with time_in_force gtc or ioc, not day",
        ),
        (
            signal(symbol="BTC/USD", time_in_force="fok"),
            "crypto BTC/USD trades with time_in_force gtc or ioc, not fok",
        ),
        (signal(order_type="limit", price=None), "a limit order needs a price"),
        (signal(symbol="NVDA", price=...), "price is missing and NVDA has no current price"),
        (["not", "a", "dict"], "a signal must be a dict, got list"),
        ({"action": "cancel"}, "cancel needs an order_id string"),
        ({"action": "cancel", "order_id": 42}, "cancel needs an order_id string"),
    ],
)
def test_each_problem_has_a_clear_message(raw: Any, message: str) -> None:
    with pytest.raises(InvalidSignal) as info:
        validate_signal(raw, UNIVERSE, PRICES)
    assert info.value.message == message
    assert str(info.value) == message


def test_a_market_buy_becomes_an_intent_with_defaults() -> None:
    intent = check(signal())
    assert intent == OrderIntent(
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        limit_price=None,
        requested_price=Decimal(230),
        extra={},
    )


def test_float_noise_is_read_as_the_decimal_a_person_meant() -> None:
    intent = check(signal(quantity=0.1 + 0.2, price=0.1 + 0.7))
    assert intent.quantity == Decimal("0.3") and dec_str(intent.quantity) == "0.3"
    assert intent.requested_price == Decimal("0.8")


def test_limit_sell_keeps_its_price_and_extra_keys() -> None:
    intent = check(
        signal(
            action="SELL",
            order_type="LIMIT",
            time_in_force="gtc",
            price="231.25",
            reason="take profit",
            confidence=0.8,
        )
    )
    assert intent.side is Side.SELL and intent.order_type is OrderType.LIMIT
    assert intent.limit_price == Decimal("231.25") == intent.requested_price
    assert intent.time_in_force is TimeInForce.GTC
    assert intent.extra == {"reason": "take profit", "confidence": 0.8}


def test_market_order_without_price_takes_the_current_price() -> None:
    assert check(signal(price=None)).requested_price == Decimal("230.5")


def test_crypto_defaults_to_gtc_and_accepts_fractions() -> None:
    intent = check(signal(symbol="BTC/USD", quantity="0.0015", price=None))
    assert intent.time_in_force is TimeInForce.GTC
    assert intent.quantity == Decimal("0.0015")
    assert check(signal(symbol="BTC/USD", time_in_force="ioc")).time_in_force is TimeInForce.IOC


def test_cancel_signal() -> None:
    intent = validate_signal({"action": "Cancel", "order_id": "team1-X"}, UNIVERSE)
    assert intent == CancelIntent(order_id="team1-X")


def test_huge_quantities_are_numbers_not_crashes() -> None:
    assert to_decimal("1E+30") == Decimal(10) ** 30
    assert dec_str(Decimal("1E+30")) == "1" + "0" * 30


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("quantity", 1e30, "too large"),
        ("quantity", "1E+1000000", "quantity"),
        ("quantity", "1e999999", "quantity"),
        ("price", "1e-999999", "price"),
        ("quantity", "9" * 5000, "too long"),
    ],
)
def test_numbers_outside_the_domain_rule_are_a_clear_signal_error(
    field: str, value: object, text: str
) -> None:
    raw = signal(**{field: value, "order_type": "limit"} if field == "price" else {field: value})
    with pytest.raises(InvalidSignal) as caught:
        check(raw)
    assert text in str(caught.value)
    assert len(str(caught.value)) < 300


def test_normalize_signals_accepts_one_many_or_none() -> None:
    one = signal()
    assert normalize_signals(None) == []
    assert normalize_signals(one) == [one]
    assert normalize_signals([one, one]) == [one, one]
    assert normalize_signals((one,)) == [one]
