"""Orders through the real alpaca-py TradingClient against the local exchange."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from .conftest import KEY, Harness


def _limit(symbol: str, qty: float, price: float, **kwargs: object) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        qty=qty,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=price,
        **kwargs,
    )


def test_market_order_fills_and_is_found_by_both_ids(harness: Harness) -> None:
    client = harness.trading
    order = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id="team1-0001",
        )
    )
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_qty)) == 3
    by_id = client.get_order_by_id(order.id)
    by_client = client.get_order_by_client_id("team1-0001")
    assert by_id.id == by_client.id == order.id
    assert by_client.filled_avg_price == order.filled_avg_price

    [execution] = harness.executions()
    assert execution["order_id"] == str(order.id)
    assert execution["client_order_id"] == "team1-0001"
    assert Decimal(execution["qty"]) == 3
    assert Decimal(execution["price"]) == Decimal(str(order.filled_avg_price))

    [position] = client.get_all_positions()
    assert (position.symbol, position.qty) == ("AAPL", "3")
    account = client.get_account()
    cost = Decimal(execution["qty"]) * Decimal(execution["price"])
    assert Decimal(str(account.cash)) == Decimal("100000") - cost


def test_limit_order_rests_then_cancel_and_cancel_again_is_422(harness: Harness) -> None:
    client = harness.trading
    order = client.submit_order(_limit("MSFT", 2, 1.00))
    assert order.status == OrderStatus.NEW
    client.cancel_order_by_id(order.id)
    assert client.get_order_by_id(order.id).status == OrderStatus.CANCELED
    with pytest.raises(APIError) as closed:
        client.cancel_order_by_id(order.id)
    assert closed.value.status_code == 422
    assert closed.value.code == 42210000
    assert "canceled" in closed.value.message


def test_unknown_order_is_404_by_either_id(harness: Harness) -> None:
    for lookup in (
        lambda: harness.trading.get_order_by_id(uuid.uuid4()),
        lambda: harness.trading.get_order_by_client_id("nobody-0001"),
        lambda: harness.trading.cancel_order_by_id(uuid.uuid4()),
    ):
        with pytest.raises(APIError) as missing:
            lookup()
        assert missing.value.status_code == 404
        assert missing.value.code == 40410000


def test_duplicate_client_order_id_is_refused_even_after_cancel(harness: Harness) -> None:
    client = harness.trading
    first = client.submit_order(_limit("MSFT", 1, 1.00, client_order_id="team1-dup"))
    client.cancel_order_by_id(first.id)
    with pytest.raises(APIError) as duplicate:
        client.submit_order(_limit("MSFT", 1, 1.00, client_order_id="team1-dup"))
    assert duplicate.value.status_code == 422
    assert "client_order_id must be unique" in duplicate.value.message
    assert len(client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))) == 1


def test_insufficient_buying_power_is_403(harness: Harness) -> None:
    with pytest.raises(APIError) as refused:
        harness.trading.submit_order(_limit("AAPL", 100_000, 100.00))
    assert refused.value.status_code == 403
    assert refused.value.code == 40310000
    assert harness.trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []


def test_bad_credentials_are_401_with_alpacas_body(harness: Harness) -> None:
    intruder = TradingClient(KEY, "wrong-secret", paper=True, url_override=harness.base_url)
    with pytest.raises(APIError) as refused:
        intruder.get_account()
    assert refused.value.status_code == 401
    assert (refused.value.code, refused.value.message) == (40110000, "request is not authorized")
    bare = requests.get(f"{harness.base_url}/v2/orders", timeout=10)
    assert bare.status_code == 401


def test_listing_pages_on_submission_time_with_after_limit_and_status(harness: Harness) -> None:
    client = harness.trading
    placed: list[Any] = []
    for i in range(5):
        placed.append(client.submit_order(_limit("MSFT", 1, 1.00 + i / 100)))
        harness.advance(1)  # distinct submission times, as paging on `after` needs
    client.cancel_order_by_id(placed[4].id)

    first_page = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=2, direction=Sort.ASC)
    )
    assert [o.id for o in first_page] == [placed[0].id, placed[1].id]
    rest = client.get_orders(
        GetOrdersRequest(
            status=QueryOrderStatus.OPEN,
            after=first_page[-1].submitted_at,  # type: ignore[index]
            direction=Sort.ASC,
        )
    )
    assert [o.id for o in rest] == [placed[2].id, placed[3].id]
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert [o.id for o in closed] == [placed[4].id]
    newest_first = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert [o.id for o in newest_first] == [o.id for o in reversed(placed)]
    none_for_aapl = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["AAPL"])
    )
    assert none_for_aapl == []
    until = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, until=placed[1].submitted_at)
    )
    assert [o.id for o in until] == [placed[0].id]


def test_bad_listing_parameters_are_422(harness: Harness) -> None:
    for query in ("status=bogus", "limit=501", "limit=x", "direction=up", "after=yesterday"):
        reply = requests.get(
            f"{harness.base_url}/v2/orders?{query}", headers=harness.auth_headers(), timeout=10
        )
        assert reply.status_code == 422, query
        assert reply.json()["code"] == 40010001


def test_cancel_all_answers_207_per_order(harness: Harness) -> None:
    client = harness.trading
    a = client.submit_order(_limit("MSFT", 1, 1.00))
    b = client.submit_order(_limit("AAPL", 1, 1.00))
    responses = client.cancel_orders()
    assert {r.id for r in responses} == {a.id, b.id}
    assert {r.status for r in responses} == {200}
    assert client.get_orders() == []


def test_partial_fills_show_in_orders_and_fill_activities(harness: Harness) -> None:
    client = harness.trading
    order = client.submit_order(
        MarketOrderRequest(symbol="BTC/USD", qty=0.5, side=OrderSide.BUY, time_in_force="gtc")
    )
    assert order.status == OrderStatus.PARTIALLY_FILLED
    for _ in range(30):
        if client.get_order_by_id(order.id).status == OrderStatus.FILLED:
            break
        harness.advance(1)
    final = client.get_order_by_id(order.id)
    assert final.status == OrderStatus.FILLED
    activities = client.get("/account/activities/FILL", {"direction": "asc", "page_size": 100})
    assert isinstance(activities, list) and len(activities) >= 2
    assert [a["type"] for a in activities][-1] == "fill"
    assert {a["type"] for a in activities[:-1]} == {"partial_fill"}
    assert all(a["symbol"] == "BTCUSD" and a["order_id"] == str(order.id) for a in activities)
    assert Decimal(activities[-1]["cum_qty"]) == Decimal("0.5")
    assert sum(Decimal(a["qty"]) for a in activities) == Decimal("0.5")
    oracle = harness.executions()
    assert [e["execution_id"] for e in oracle] == [a["id"].split("::")[1] for a in activities]
    second_page = client.get(
        "/account/activities/FILL",
        {"direction": "asc", "page_size": 1, "page_token": activities[0]["id"]},
    )
    assert [a["id"] for a in second_page] == [activities[1]["id"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [("qty", "1E+1000000"), ("qty", "1e30"), ("limit_price", "1e-999999"), ("qty", "9" * 5000)],
)
def test_numbers_outside_the_domain_rule_are_422_never_500(
    harness: Harness, field: str, value: str
) -> None:
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100"}
    body["time_in_force"] = "gtc"
    body[field] = value
    reply = requests.post(
        f"{harness.base_url}/v2/orders", json=body, headers=harness.auth_headers(), timeout=10
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == 40010001
    assert len(reply.text) < 500
