"""Reservations: what open orders hold back from a team's cash and shares."""

from __future__ import annotations

from decimal import Decimal

from qtc.domain.enums import OrderType, Side
from qtc.domain.portfolio import Portfolio, free_cash, free_shares, reservations

from .conftest import make_order


def test_limit_buy_reserves_quantity_times_limit() -> None:
    order = make_order(quantity="10", order_type=OrderType.LIMIT, limit_price="101.5")
    reserved = reservations([order], {"AAPL": Decimal(200)})
    assert reserved.cash == Decimal(1015)
    assert dict(reserved.shares) == {}


def test_market_buy_reserves_last_price_plus_margin() -> None:
    order = make_order(quantity="4", requested_price="90")
    assert reservations([order], {"AAPL": Decimal(100)}).cash == Decimal(420)
    assert reservations([order], {"AAPL": Decimal(100)}, Decimal("0.1")).cash == Decimal(440)
    # no last price known: the requested price stands in
    assert reservations([order], {}).cash == Decimal("378")


def test_sell_reserves_shares_not_cash() -> None:
    orders = [
        make_order(side=Side.SELL, quantity="3"),
        make_order(side=Side.SELL, quantity="2", order_type=OrderType.LIMIT, limit_price="1"),
        make_order(side=Side.SELL, quantity="1", symbol="NVDA"),
    ]
    reserved = reservations(orders, {"AAPL": Decimal(100)})
    assert reserved.cash == 0
    assert dict(reserved.shares) == {"AAPL": Decimal(5), "NVDA": Decimal(1)}


def test_partial_fill_reduces_the_reservation() -> None:
    buy = make_order(quantity="10", order_type=OrderType.LIMIT, limit_price="50", filled_qty="4")
    sell = make_order(side=Side.SELL, quantity="10", filled_qty="7")
    done = make_order(quantity="5", order_type=OrderType.LIMIT, limit_price="50", filled_qty="5")
    reserved = reservations([buy, sell, done], {"AAPL": Decimal(100)})
    assert reserved.cash == Decimal(300)
    assert dict(reserved.shares) == {"AAPL": Decimal(3)}


def test_free_cash_and_shares_subtract_reservations() -> None:
    portfolio = Portfolio.new(Decimal(10_000))
    portfolio.apply("AAPL", Side.BUY, Decimal(20), Decimal(100))
    orders = [
        make_order(quantity="10", order_type=OrderType.LIMIT, limit_price="99"),
        make_order(side=Side.SELL, quantity="15"),
    ]
    reserved = reservations(orders, {"AAPL": Decimal(100)})
    assert free_cash(portfolio, reserved) == Decimal(10_000 - 2000 - 990)
    assert free_shares(portfolio, reserved, "AAPL") == Decimal(5)
    assert free_shares(portfolio, reserved, "NVDA") == Decimal(0)
