"""Fills derived from cumulative quantities: duplicates and disorder never lose or double a fill."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qtc.domain.enums import Side
from qtc.domain.fills import Fill, HeldFills, derive_fill

from .conftest import T0

ORDER_ID = "team1-01JD0000000000000000000000"


@dataclass(frozen=True)
class Update:
    """A cumulative report from the broker; stream events also carry their own execution."""

    cum_qty: Decimal
    avg_price: Decimal
    execution_id: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None


quantities = st.one_of(
    st.integers(min_value=1, max_value=300).map(Decimal),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10), places=4),
)
prices = st.integers(min_value=1, max_value=20_000_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def executions(draw: st.DrawFn) -> list[tuple[Decimal, Decimal]]:
    return draw(st.lists(st.tuples(quantities, prices), min_size=1, max_size=8))


def cumulative_updates(execs: list[tuple[Decimal, Decimal]], as_event: list[bool]) -> list[Update]:
    """What the broker reports after each execution: cumulative qty and average price."""
    updates = []
    cum_qty = Decimal(0)
    cum_notional = Decimal(0)
    for k, (qty, price) in enumerate(execs):
        cum_qty += qty
        cum_notional += qty * price
        avg = cum_notional / cum_qty
        if as_event[k % len(as_event)]:
            updates.append(Update(cum_qty, avg, f"exec-{k}", qty, price))
        else:
            updates.append(Update(cum_qty, avg))
    return updates


def apply(updates: list[Update]) -> list[Fill]:
    """Run updates through derive_fill, holding what was booked like the ledger does."""
    held = HeldFills()
    fills = []
    for u in updates:
        fill = derive_fill(
            order_id=ORDER_ID,
            symbol="AAPL",
            side=Side.BUY,
            held=held,
            cum_qty=u.cum_qty,
            avg_price=u.avg_price,
            timestamp=T0,
            execution_id=u.execution_id,
            event_qty=u.qty,
            event_price=u.price,
        )
        if fill is not None:
            fills.append(fill)
            held = HeldFills(held.qty + fill.qty, held.notional + fill.notional)
    return fills


def assert_totals(fills: list[Fill], execs: list[tuple[Decimal, Decimal]]) -> None:
    true_qty = sum((q for q, _ in execs), Decimal(0))
    true_notional = sum((q * p for q, p in execs), Decimal(0))
    assert sum((f.qty for f in fills), Decimal(0)) == true_qty
    assert abs(sum((f.notional for f in fills), Decimal(0)) - true_notional) <= Decimal("1e-6")
    assert len({f.execution_id for f in fills}) == len(fills), "a fill was counted twice"
    cums = [f.cum_filled_qty for f in fills]
    assert cums == sorted(set(cums))
    assert all(f.qty > 0 and f.price > 0 for f in fills)


@settings(max_examples=200, deadline=None)
@given(
    executions(),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.data(),
)
def test_any_order_with_duplicates_books_exactly_the_truth(
    execs: list[tuple[Decimal, Decimal]], as_event: list[bool], data: st.DataObject
) -> None:
    updates = cumulative_updates(execs, as_event)
    # every update at least once, some several times, the final one always present
    extra = data.draw(st.lists(st.sampled_from(updates), max_size=12))
    delivered = data.draw(st.permutations(updates + extra))
    assert_totals(apply(delivered), execs)


@settings(max_examples=200, deadline=None)
@given(executions(), st.lists(st.booleans(), min_size=1, max_size=8), st.data())
def test_in_order_delivery_with_stale_repeats_gives_one_fill_per_execution(
    execs: list[tuple[Decimal, Decimal]], as_event: list[bool], data: st.DataObject
) -> None:
    updates = cumulative_updates(execs, as_event)
    delivered: list[Update] = []
    for k, update in enumerate(updates):
        delivered.append(update)
        # stale re-deliveries of anything already seen
        delivered += data.draw(st.lists(st.sampled_from(updates[: k + 1]), max_size=3))
    fills = apply(delivered)
    assert [(f.qty, f.price) for f in fills] == execs
    expected_ids = [
        u.execution_id if u.execution_id else f"{ORDER_ID}@{u.cum_qty.normalize():f}"
        for u in updates
    ]
    assert [f.execution_id for f in fills] == expected_ids
    assert_totals(fills, execs)
    # the same updates delivered once each, in order, give the very same fills
    assert apply(updates) == fills


@settings(max_examples=200, deadline=None)
@given(executions(), st.data())
def test_a_replay_after_a_restart_books_nothing_new(
    execs: list[tuple[Decimal, Decimal]], data: st.DataObject
) -> None:
    updates = cumulative_updates(execs, [False])
    fills = apply(updates)
    held = HeldFills(
        sum((f.qty for f in fills), Decimal(0)), sum((f.notional for f in fills), Decimal(0))
    )
    update = data.draw(st.sampled_from(updates))
    again = derive_fill(
        order_id=ORDER_ID,
        symbol="AAPL",
        side=Side.BUY,
        held=held,
        cum_qty=update.cum_qty,
        avg_price=update.avg_price,
        timestamp=T0,
    )
    assert again is None


def test_event_with_its_own_execution_uses_its_price_and_id() -> None:
    held = HeldFills(Decimal(2), Decimal(200))
    fill = derive_fill(
        order_id=ORDER_ID,
        symbol="AAPL",
        side=Side.SELL,
        held=held,
        cum_qty=Decimal(5),
        avg_price=Decimal(106),
        timestamp=T0,
        execution_id="x-1",
        event_qty=Decimal(3),
        event_price=Decimal(110),
    )
    assert fill is not None
    assert (fill.qty, fill.price, fill.execution_id, fill.cum_filled_qty) == (3, 110, "x-1", 5)


def test_poll_without_average_price_waits_for_one() -> None:
    fill = derive_fill(
        order_id=ORDER_ID,
        symbol="AAPL",
        side=Side.BUY,
        held=HeldFills(),
        cum_qty=Decimal(5),
        avg_price=None,
        timestamp=T0,
    )
    assert fill is None
