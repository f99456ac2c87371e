"""Alpaca payloads become domain types exactly; unknown statuses and events are errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from qtc.alpaca.translate import (
    order_from_payload,
    orders_from_listing,
    trade_update_from_payload,
)
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import BrokerProtocolError, UnreadableOrder
from qtc.domain.orders import BrokerOrder
from qtc.domain.orders import UnreadableOrder as UnreadableOrderInfo


def order_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "team1-01J0000000000000000000000",
        "created_at": "2026-11-20T14:30:00.123456789Z",
        "updated_at": "2026-11-20T14:31:00Z",
        "submitted_at": "2026-11-20T14:30:00.123456789Z",
        "symbol": "BTC/USD",
        "qty": "0.123456789",
        "filled_qty": "0.1",
        "filled_avg_price": "97000.12",
        "type": "limit",
        "side": "buy",
        "time_in_force": "gtc",
        "limit_price": "97001.5",
        "status": "partially_filled",
        "order_class": "simple",
        "extended_hours": False,
    }
    payload.update(overrides)
    return payload


def test_an_order_keeps_every_digit_and_nanosecond_times_are_read() -> None:
    order = order_from_payload(order_payload())
    assert order.qty == Decimal("0.123456789")
    assert order.filled_avg_price == Decimal("97000.12")
    assert order.limit_price == Decimal("97001.5")
    assert (order.side, order.order_type, order.time_in_force) == (
        Side.BUY,
        OrderType.LIMIT,
        TimeInForce.GTC,
    )
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.submitted_at == datetime(2026, 11, 20, 14, 30, 0, 123456, tzinfo=UTC)


def test_an_unfilled_order_has_no_average_price() -> None:
    order = order_from_payload(order_payload(filled_qty="0", filled_avg_price=None))
    assert order.filled_qty == 0
    assert order.filled_avg_price is None


ALPACA_STATUSES = [
    "new", "partially_filled", "filled", "done_for_day", "canceled", "expired", "replaced",
    "pending_cancel", "pending_replace", "pending_review", "accepted", "pending_new",
    "accepted_for_bidding", "stopped", "rejected", "suspended", "calculated", "held",
]  # fmt: skip


@pytest.mark.parametrize("status", ALPACA_STATUSES)
def test_every_documented_alpaca_status_is_read(status: str) -> None:
    assert order_from_payload(order_payload(status=status)).status == OrderStatus(status)


@pytest.mark.parametrize("field,value", [("status", "restated"), ("type", "butterfly")])
def test_an_order_qtc_cannot_read_is_named_not_guessed(field: str, value: str) -> None:
    with pytest.raises(UnreadableOrder) as caught:
        order_from_payload(order_payload(**{field: value}))
    assert caught.value.order.broker_order_id == order_payload()["id"]
    if field == "status":
        assert caught.value.order.raw_status == "restated"


def test_a_fill_event_carries_its_own_execution_exactly() -> None:
    update = trade_update_from_payload(
        {
            "event": "fill",
            "execution_id": "7a2f4d36-0000-4000-8000-000000000001",
            "order": order_payload(status="filled", filled_qty="0.123456789"),
            "timestamp": "2026-11-20T14:32:00.5Z",
            "price": "97000.13",
            "qty": "0.023456789",
            "position_qty": "0.123456789",
        }
    )
    assert update.event is TradeEvent.FILL
    assert update.qty == Decimal("0.023456789")
    assert update.price == Decimal("97000.13")
    assert update.order.filled_qty == Decimal("0.123456789")
    assert update.execution_id == "7a2f4d36-0000-4000-8000-000000000001"


def test_an_unknown_event_is_a_protocol_error() -> None:
    with pytest.raises(BrokerProtocolError):
        trade_update_from_payload(
            {"event": "restated", "order": order_payload(), "timestamp": "2026-11-20T14:32:00Z"}
        )


def test_a_listing_keeps_unreadable_orders_in_place_so_pages_stay_whole() -> None:
    ours = order_payload(client_order_id="alpha-01ARZ3NDEKTSV4RRFFQ69G5FAV")
    by_hand = order_payload(id="hand-1", client_order_id="my-stop", type="options_spread")
    odd = order_payload(id="odd-1", client_order_id="alpha-01ARZ3NDEKTSV4RRFFQ69G5FAW", status="x")
    listed = orders_from_listing([by_hand, ours, odd])
    assert [o.client_order_id for o in listed] == [
        "my-stop",
        "alpha-01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "alpha-01ARZ3NDEKTSV4RRFFQ69G5FAW",
    ]
    assert isinstance(listed[0], UnreadableOrderInfo)
    assert isinstance(listed[2], UnreadableOrderInfo) and listed[2].raw_status == "x"
    assert isinstance(listed[1], BrokerOrder)
