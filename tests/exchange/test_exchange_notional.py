"""Notional orders at the exchange: sized at the quote when accepted, Alpaca's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.journal import JournaledEngine
from qtc.exchange.engine.matching import ExchangeEngine

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def notional(amount: str, **fields: object) -> OrderRequest:
    values: dict[str, object] = {
        "client_order_id": f"n-{amount}-{len(fields)}",
        "symbol": "AAPL",
        "side": Side.BUY,
        "qty": Decimal(0),
        "order_type": OrderType.MARKET,
        "time_in_force": TimeInForce.DAY,
        "notional": Decimal(amount),
    }
    values.update(fields)
    return OrderRequest(**values)  # type: ignore[arg-type]


def engine() -> ExchangeEngine:
    built = ExchangeEngine(seed=3, symbols=["AAPL", "BTC/USD"], half_spread_bps=Decimal(0))
    built.set_price("AAPL", Decimal(300), liquidity=Decimal(1000))
    built.set_price("BTC/USD", Decimal(90000), liquidity=Decimal(10))
    return built


def test_a_notional_buy_is_sized_at_the_quote_and_fills_for_its_amount() -> None:
    exchange = engine()
    order = exchange.submit(notional("1000"), NOW)
    assert order.notional == 1000 and order.qty == Decimal("3.333333333")
    assert order.status is OrderStatus.FILLED and order.filled_avg_price == 300
    assert exchange.account().cash == Decimal("10000000") - Decimal("999.9999999")


def test_crypto_notional_is_gtc() -> None:
    order = engine().submit(notional("45", symbol="BTC/USD", time_in_force=TimeInForce.GTC), NOW)
    assert order.qty == Decimal("0.0005")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notional": Decimal("0.5")}, "notional must be at least 1"),
        ({"notional": Decimal("1.001")}, "at most 2 decimal places"),
        (
            {"order_type": OrderType.LIMIT, "limit_price": Decimal(299)},
            "notional orders must be market orders",
        ),
        ({"time_in_force": TimeInForce.GTC}, "notional orders of AAPL must be day orders"),
    ],
)
def test_notional_orders_follow_alpacas_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(OrderRejected, match=message):
        engine().submit(notional("100", **fields), NOW)


def test_a_notional_order_replays_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    params: dict[str, Any] = {
        "seed": 3,
        "symbols": ["AAPL"],
        "buying_power": Decimal(100000),
        "participation": Decimal("0.1"),
        "half_spread_bps": Decimal(0),
    }
    first = JournaledEngine.open(path, **params)
    first.set_price("AAPL", Decimal(300), liquidity=Decimal(1000))
    placed = first.submit(notional("1000"), NOW)
    again = JournaledEngine.open(path, **params)
    assert again.get(placed.broker_order_id) == placed
