"""Portfolio arithmetic: a fold over fills that never creates or loses a cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from qtc.domain.enums import Side
from qtc.domain.fills import Fill
from qtc.domain.portfolio import Portfolio

T0 = datetime(2025, 11, 24, 15, 0, tzinfo=UTC)
SYMBOLS = ["AAPL", "NVDA", "BTC/USD"]

quantities = st.one_of(
    st.integers(min_value=1, max_value=500).map(Decimal),
    st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(50), places=9),
)
prices = st.one_of(
    st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c).scaleb(-2)),
    st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(1000), places=9),
)


@st.composite
def fill_lists(draw: st.DrawFn) -> list[Fill]:
    n = draw(st.integers(min_value=0, max_value=25))
    fills = []
    for i in range(n):
        fills.append(
            Fill(
                order_id=f"o{i}",
                execution_id=f"e{i}",
                symbol=draw(st.sampled_from(SYMBOLS)),
                side=draw(st.sampled_from(list(Side))),
                qty=draw(quantities),
                price=draw(prices),
                timestamp=T0 + timedelta(seconds=i),
                cum_filled_qty=Decimal(1),
            )
        )
    return fills


@settings(max_examples=150, deadline=None)
@given(fill_lists(), st.integers(min_value=0, max_value=10_000_000).map(Decimal))
def test_cash_plus_cost_basis_minus_realized_is_initial_cash(
    fills: list[Fill], initial: Decimal
) -> None:
    portfolio = Portfolio.new(initial)
    for fill in fills:
        portfolio.apply_fill(fill)
        with localcontext(prec=80):  # the check itself must not round
            assert portfolio.cash + portfolio.cost_basis() - portfolio.realized_pnl == initial
    assert portfolio.fill_count == len(fills)


@settings(max_examples=100, deadline=None)
@given(fill_lists())
def test_replay_equals_incremental_application(fills: list[Fill]) -> None:
    incremental = Portfolio.new(Decimal(100_000))
    for fill in fills:
        incremental.apply_fill(fill)
    assert Portfolio.replay(Decimal(100_000), fills) == incremental


@settings(max_examples=100, deadline=None)
@given(fill_lists())
def test_positions_are_the_signed_sum_of_fills(fills: list[Fill]) -> None:
    portfolio = Portfolio.replay(Decimal(0), fills)
    for symbol in SYMBOLS:
        signed = sum(
            (f.qty if f.side is Side.BUY else -f.qty for f in fills if f.symbol == symbol),
            Decimal(0),
        )
        assert portfolio.quantity(symbol) == signed
        assert (symbol in portfolio.positions) == (signed != 0)


def fill(symbol: str, side: Side, qty: str, price: str) -> Fill:
    return Fill("o", "e", symbol, side, Decimal(qty), Decimal(price), T0, Decimal(qty))


def test_round_trip_realizes_the_difference() -> None:
    portfolio = Portfolio.replay(
        Decimal(10_000),
        [
            fill("AAPL", Side.BUY, "10", "100"),
            fill("AAPL", Side.BUY, "10", "110"),
            fill("AAPL", Side.SELL, "5", "120"),
        ],
    )
    assert portfolio.quantity("AAPL") == 15
    assert portfolio.positions["AAPL"].avg_cost == Decimal(105)
    assert portfolio.realized_pnl == Decimal(75)
    assert portfolio.cash == Decimal(10_000 - 1000 - 1100 + 600)
    assert portfolio.equity({"AAPL": Decimal(130)}) == portfolio.cash + 15 * 130
    assert portfolio.unrealized_pnl({"AAPL": Decimal(130)}) == 15 * 25


def test_short_then_cover_through_zero() -> None:
    portfolio = Portfolio.replay(
        Decimal(1000),
        [fill("TSLA", Side.SELL, "2", "300"), fill("TSLA", Side.BUY, "5", "250")],
    )
    assert portfolio.realized_pnl == Decimal(100)
    assert portfolio.quantity("TSLA") == 3
    assert portfolio.positions["TSLA"].avg_cost == Decimal(250)
    assert portfolio.cash == Decimal(1000 + 600 - 1250)
