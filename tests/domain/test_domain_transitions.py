"""The order state machine: only legal moves are accepted and a closed order stays closed."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtc.domain.enums import TERMINAL_STATUSES, OrderStatus
from qtc.domain.errors import IllegalTransition
from qtc.domain.transitions import LEGAL_TRANSITIONS, check_transition

from .conftest import T0, make_order

S = OrderStatus


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=30))
def test_advance_accepts_exactly_the_legal_transitions(statuses: list[OrderStatus]) -> None:
    order = make_order()
    closed_as: OrderStatus | None = None
    for i, status in enumerate(statuses):
        before = order.status
        at = T0 + timedelta(seconds=i + 1)
        if status == before:
            assert order.advance(status, at) is False
        elif status in LEGAL_TRANSITIONS[before]:
            assert order.advance(status, at) is True
            assert order.updated_at == at
        else:
            with pytest.raises(IllegalTransition):
                order.advance(status, at)
            assert order.status == before
        if closed_as is not None:
            assert order.status == closed_as, "a terminal order reopened"
        elif order.status in TERMINAL_STATUSES:
            closed_as = order.status
        assert order.is_open == (order.status not in TERMINAL_STATUSES)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_long_mostly_legal_lives_never_reopen(data: st.DataObject) -> None:
    order = make_order()
    history = [order.status]
    for i in range(40):
        legal = sorted(LEGAL_TRANSITIONS[order.status])
        pick_legal = bool(legal) and data.draw(st.booleans())
        status = data.draw(st.sampled_from(legal if pick_legal else list(OrderStatus)))
        try:
            order.advance(status, T0 + timedelta(seconds=i))
        except IllegalTransition:
            assert status not in LEGAL_TRANSITIONS[history[-1]]
        history.append(order.status)
    for earlier, later in itertools.pairwise(history):
        assert later == earlier or later in LEGAL_TRANSITIONS[earlier]
        if earlier in TERMINAL_STATUSES:
            assert later == earlier


def test_table_covers_every_status_and_terminals_lead_nowhere() -> None:
    assert set(LEGAL_TRANSITIONS) == set(OrderStatus)
    for status in TERMINAL_STATUSES:
        assert LEGAL_TRANSITIONS[status] == frozenset()
    for status, targets in LEGAL_TRANSITIONS.items():
        assert status not in targets
        if status not in TERMINAL_STATUSES:
            assert targets & TERMINAL_STATUSES, f"{status} can never end"


def test_the_usual_lives_of_an_order() -> None:
    for life in (
        [S.PENDING_NEW, S.ACCEPTED, S.NEW, S.PARTIALLY_FILLED, S.FILLED],
        [S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.CANCELED],
        [S.PENDING_NEW, S.NEW, S.DONE_FOR_DAY, S.NEW, S.EXPIRED],
        [S.PENDING_NEW, S.REJECTED],
    ):
        order = make_order()
        for status in life[1:]:
            assert order.advance(status, T0) is True
        assert order.status == life[-1]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.FILLED, S.NEW),
        (S.CANCELED, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.NEW),
        (S.NEW, S.PENDING_NEW),
        (S.PENDING_CANCEL, S.PENDING_NEW),
        (S.EXPIRED, S.FILLED),
    ],
)
def test_backward_moves_raise(current: OrderStatus, new: OrderStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"{current} -> {new}"):
        check_transition(current, new)


def test_updated_at_never_goes_back() -> None:
    order = make_order()
    order.advance(S.NEW, T0 + timedelta(minutes=5))
    order.advance(S.PARTIALLY_FILLED, T0 + timedelta(minutes=1))
    assert order.updated_at == T0 + timedelta(minutes=5)


def test_record_fills_takes_only_larger_cumulative_quantities() -> None:
    order = make_order(quantity="10")
    assert order.record_fills(Decimal(4), Decimal("100.5"), T0) is True
    assert order.record_fills(Decimal(4), Decimal("999"), T0) is False
    assert order.record_fills(Decimal(3), Decimal("999"), T0) is False
    assert (order.filled_qty, order.filled_avg_price, order.remaining_qty) == (
        4,
        Decimal("100.5"),
        6,
    )
