"""What a team's open orders reserve, kept group by group, always equals the sum over all of
them afresh: for random sequences of orders placed, filled, re-priced and closed, with bracket
legs that are held, released and ended on their own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import Order
from qtc.domain.portfolio import reservations
from qtc.tracking.book import OrderIndex
from qtc.tracking.reserved import TeamReservations

T0 = datetime(2026, 3, 2, 14, 31, tzinfo=UTC)
MARGIN = Decimal("0.05")
SYMBOLS = ("AAPL", "MSFT")
TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP)


def _order(n: int, team: str, side: Side, kind: OrderType, qty: int, parent: str | None) -> Order:
    return Order(
        order_id=f"{team}-{n}",
        team_id=team,
        symbol=SYMBOLS[n % 2],
        side=side,
        quantity=Decimal(qty),
        order_type=kind,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal(90 + n % 7) if kind is OrderType.LIMIT else None,
        stop_price=Decimal(110) if kind is OrderType.STOP else None,
        trail_percent=Decimal(1) if kind is OrderType.TRAILING_STOP else None,
        requested_price=Decimal(100),
        created_at=T0,
        updated_at=T0,
        status=OrderStatus.HELD if parent else OrderStatus.NEW,
        order_class=OrderClass.BRACKET if parent else OrderClass.SIMPLE,
        parent_id=parent,
    )


# one step: (what, team, a number choosing the order or its shape, a quantity)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["place", "bracket", "fill", "release", "close", "reprice", "read"]),
        st.sampled_from(["alpha", "bravo"]),
        st.integers(0, 1_000),
        st.integers(1, 50),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_kept_reservations_equal_a_fresh_sum(steps: list[tuple[str, str, int, int]]) -> None:
    book = OrderIndex()
    kept = TeamReservations(book, MARGIN)
    prices = {"AAPL": Decimal(100), "MSFT": Decimal(200)}
    for n, (what, team, pick, qty) in enumerate(steps):
        open_orders = book.open_orders(team)
        chosen = open_orders[pick % len(open_orders)] if open_orders else None
        if what == "place":
            side = Side.BUY if pick % 3 else Side.SELL
            book.add(_order(n, team, side, TYPES[pick % len(TYPES)], qty, None))
        elif what == "bracket":
            entry = _order(n, team, Side.BUY, TYPES[pick % 2], qty, None)
            book.add(entry)
            for leg_kind in (OrderType.LIMIT, OrderType.STOP):
                leg = _order(n, team, Side.SELL, leg_kind, qty, entry.order_id)
                leg.order_id = f"{entry.order_id}-{leg_kind.value}"
                book.add(leg)
        elif what == "fill" and chosen is not None:
            chosen.filled_qty = min(chosen.quantity, chosen.filled_qty + qty)
            chosen.filled_avg_price = Decimal(100)
            book.touch(chosen)
        elif what == "release" and chosen is not None and chosen.status is OrderStatus.HELD:
            chosen.status = OrderStatus.NEW
            book.touch(chosen)
        elif what == "close" and chosen is not None:
            chosen.status = OrderStatus.CANCELED
            book.close(chosen)
        elif what == "reprice":
            prices[SYMBOLS[pick % 2]] = Decimal(50 + pick % 300)
        for name in ("alpha", "bravo"):
            fresh = reservations(book.open_orders(name), prices, MARGIN)
            got = kept.of(name, prices)
            assert got.cash == fresh.cash
            assert {s: q for s, q in got.shares.items() if q} == {
                s: q for s, q in fresh.shares.items() if q
            }
