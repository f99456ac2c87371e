"""Every Alpaca order type and class through plain alpaca-py against the local exchange: built
with alpaca-py's own request models, read back through its own Order model (legs included),
replaced with `replace_order_by_id`, sized from a notional amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import (
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from .conftest import Harness


def _order(answer: object) -> Order:
    assert isinstance(answer, Order), answer
    return answer


def _place(
    harness: Harness,
    model: type[OrderRequest],
    symbol: str,
    qty: float,
    side: OrderSide,
    tif: TimeInForce = TimeInForce.GTC,
    **fields: Any,
) -> Order:
    """Submit alpaca-py's `model` request built with these fields; the exchange's answer."""
    request = model(symbol=symbol, qty=qty, side=side, time_in_force=tif, **fields)
    return _order(harness.trading.submit_order(request))


def _price_of(harness: Harness, symbol: str) -> Decimal:
    """What `symbol` costs now: a market buy of one share fills at it."""
    bought = _place(harness, MarketOrderRequest, symbol, 1, OrderSide.BUY, TimeInForce.DAY)
    assert bought.status == OrderStatus.FILLED
    return Decimal(str(bought.filled_avg_price))


def _cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def test_stop_stop_limit_and_trailing_orders_rest_with_their_prices(harness: Harness) -> None:
    client = harness.trading
    price = _price_of(harness, "AAPL")
    stop = _place(harness, StopOrderRequest, "AAPL", 1, OrderSide.BUY, stop_price=_cents(price * 2))
    stop_limit = _place(
        harness,
        StopLimitOrderRequest,
        "AAPL",
        1,
        OrderSide.BUY,
        stop_price=_cents(price * 2),
        limit_price=_cents(price * 2 + 1),
    )
    trailing = _place(
        harness,
        TrailingStopOrderRequest,
        "AAPL",
        1,
        OrderSide.SELL,
        TimeInForce.DAY,
        trail_percent=50,
    )
    assert (stop.type, stop.status, Decimal(str(stop.stop_price))) == (
        OrderType.STOP,
        OrderStatus.NEW,
        Decimal(str(_cents(price * 2))),
    )
    assert stop_limit.type == OrderType.STOP_LIMIT and stop_limit.limit_price is not None
    harness.advance(2)
    marked = _order(client.get_order_by_id(trailing.id))
    assert marked.status == OrderStatus.NEW and marked.trail_percent == "50"
    # the mark is the best price since placing, the stop half of it
    assert marked.hwm is not None and marked.stop_price is not None
    assert Decimal(marked.stop_price) == (Decimal(marked.hwm) / 2).quantize(Decimal("0.01"))


def test_a_bracket_comes_back_with_its_legs_nested_or_listed_apart(harness: Harness) -> None:
    client = harness.trading
    price = _price_of(harness, "MSFT")
    entry = _place(
        harness,
        MarketOrderRequest,
        "MSFT",
        2,
        OrderSide.BUY,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=_cents(price * 2)),
        stop_loss=StopLossRequest(stop_price=_cents(price / 2)),
    )
    assert entry.order_class == OrderClass.BRACKET and entry.status == OrderStatus.FILLED
    assert entry.legs is not None
    assert sorted(leg.type.value for leg in entry.legs if leg.type) == ["limit", "stop"]
    assert {leg.status for leg in entry.legs} == {OrderStatus.NEW}
    assert {(leg.side, leg.qty) for leg in entry.legs} == {(OrderSide.SELL, "2")}
    leg_ids = {str(leg.id) for leg in entry.legs}
    again = _order(client.get_order_by_id(entry.id, GetOrderByIdRequest(nested=True)))
    assert {str(leg.id) for leg in again.legs or []} == leg_ids
    every = GetOrdersRequest(status=QueryOrderStatus.ALL)
    flat = [_order(o) for o in client.get_orders(every)]
    assert leg_ids <= {str(o.id) for o in flat}
    nested = [
        _order(o)
        for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    ]
    assert not leg_ids & {str(o.id) for o in nested}
    (parent,) = [o for o in nested if o.id == entry.id]
    assert {str(leg.id) for leg in parent.legs or []} == leg_ids


def test_an_oco_and_an_oto_place_their_exits(harness: Harness) -> None:
    client = harness.trading
    price = _price_of(harness, "AAPL")
    _place(harness, MarketOrderRequest, "AAPL", 4, OrderSide.BUY, TimeInForce.DAY)
    oco = _place(
        harness,
        LimitOrderRequest,
        "AAPL",
        2,
        OrderSide.SELL,
        order_class=OrderClass.OCO,
        limit_price=_cents(price * 2),
        take_profit=TakeProfitRequest(limit_price=_cents(price * 2)),
        stop_loss=StopLossRequest(stop_price=_cents(price / 2)),
    )
    assert oco.order_class == OrderClass.OCO and oco.status == OrderStatus.NEW
    (stop_leg,) = oco.legs or []
    assert stop_leg.type == OrderType.STOP and stop_leg.status == OrderStatus.NEW
    oto = _place(
        harness,
        LimitOrderRequest,
        "AAPL",
        1,
        OrderSide.BUY,
        order_class=OrderClass.OTO,
        limit_price=_cents(price / 2),
        stop_loss=StopLossRequest(stop_price=_cents(price / 3)),
    )
    (held,) = oto.legs or []
    assert (oto.status, held.status) == (OrderStatus.NEW, OrderStatus.HELD)
    client.cancel_order_by_id(oco.id)
    ended = [_order(client.get_order_by_id(i)) for i in (oco.id, stop_leg.id)]
    assert {o.status for o in ended} == {OrderStatus.CANCELED}


def test_replace_order_by_id_links_the_old_and_the_new_order(harness: Harness) -> None:
    client = harness.trading
    price = _price_of(harness, "MSFT")
    old = _place(
        harness, LimitOrderRequest, "MSFT", 3, OrderSide.BUY, limit_price=_cents(price / 2)
    )
    new = _order(
        client.replace_order_by_id(
            old.id,
            ReplaceOrderRequest(qty=5, limit_price=_cents(price / 3), client_order_id="mine-2"),
        )
    )
    assert (new.qty, new.client_order_id, new.status) == ("5", "mine-2", OrderStatus.NEW)
    assert str(new.replaces) == str(old.id)
    before = _order(client.get_order_by_id(old.id))
    assert (before.status, str(before.replaced_by)) == (OrderStatus.REPLACED, str(new.id))
    assert before.replaced_at is not None
    with pytest.raises(APIError) as closed:
        client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=1))
    assert closed.value.status_code == 422 and "replaced" in str(closed.value)
    with pytest.raises(APIError) as wrong:
        client.replace_order_by_id(new.id, ReplaceOrderRequest(stop_price=1.0))
    assert wrong.value.status_code == 422 and "stop_price" in str(wrong.value)
    assert _order(client.get_order_by_id(new.id)).status == OrderStatus.NEW


def test_a_notional_order_buys_what_its_amount_buys(harness: Harness) -> None:
    client = harness.trading
    price = _price_of(harness, "AAPL")
    order = _order(
        client.submit_order(
            MarketOrderRequest(
                symbol="AAPL", notional=25.5, side=OrderSide.BUY, time_in_force="day"
            )
        )
    )
    assert order.notional == "25.5" and order.status == OrderStatus.FILLED
    assert order.qty is not None and order.filled_avg_price is not None
    spent = Decimal(order.qty) * Decimal(str(order.filled_avg_price))
    assert Decimal("25.5") - price / 10**6 <= spent <= Decimal("25.5")
    with pytest.raises(APIError) as refused:
        client.submit_order(
            MarketOrderRequest(symbol="AAPL", notional=10, side=OrderSide.BUY, time_in_force="gtc")
        )
    assert refused.value.status_code == 422 and "day" in str(refused.value)


@pytest.mark.parametrize(
    "body,message",
    [
        ({"type": "market", "limit_price": "1"}, "limit_price is not allowed for market orders"),
        ({"type": "stop", "qty": "1"}, "stop_price is required for stop orders"),
        ({"type": "market", "notional": "5", "qty": "1"}, "qty and notional cannot both"),
        ({"type": "limit", "limit_price": "1", "order_class": "bracket"}, "bracket orders"),
        ({"type": "market", "order_class": "straddle"}, "invalid order_class"),
    ],
)
def test_a_shape_alpaca_refuses_is_a_422_naming_it(
    harness: Harness, body: dict[str, str], message: str
) -> None:
    order = {"symbol": "AAPL", "side": "buy", "time_in_force": "gtc", "qty": "1", **body}
    if "notional" in body and "qty" not in body:
        order.pop("qty")
    reply = requests.post(
        f"{harness.base_url}/v2/orders", json=order, headers=harness.auth_headers(), timeout=10
    )
    assert reply.status_code == 422, reply.text
    assert message in reply.json()["message"]
    assert harness.trading.get_orders() == []
