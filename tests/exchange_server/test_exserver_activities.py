"""`GET /v2/account/activities` without a type: every activity (FILLs here), paged."""

from __future__ import annotations

from typing import Any

import requests
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeActivity
from alpaca.trading.requests import MarketOrderRequest

from .conftest import Harness


def _activities(harness: Harness, **params: Any) -> list[dict[str, Any]]:
    reply = requests.get(
        harness.base_url + "/v2/account/activities",
        params=params,
        headers=harness.auth_headers(),
        timeout=10,
    )
    assert reply.status_code == 200
    body: list[dict[str, Any]] = reply.json()
    return body


def test_all_activities_are_the_fills_newest_first_and_paged(harness: Harness) -> None:
    client = harness.trading
    for symbol, side in (
        ("AAPL", OrderSide.BUY),
        ("MSFT", OrderSide.SELL),
        ("AAPL", OrderSide.SELL),
    ):
        client.submit_order(
            MarketOrderRequest(symbol=symbol, qty=2, side=side, time_in_force=TimeInForce.DAY)
        )
        harness.advance(1)
    everything = _activities(harness)
    fills = [TradeActivity(**a) for a in everything]
    assert [(f.symbol, f.side) for f in fills] == [
        ("AAPL", OrderSide.SELL),
        ("MSFT", OrderSide.SELL),
        ("AAPL", OrderSide.BUY),
    ]
    assert {a["activity_type"] for a in everything} == {"FILL"}

    first = _activities(harness, page_size=2)
    rest = _activities(harness, page_size=2, page_token=first[-1]["id"])
    assert [a["id"] for a in first + rest] == [a["id"] for a in everything]
    ascending = _activities(harness, direction="asc")
    assert [a["id"] for a in ascending] == [a["id"] for a in reversed(everything)]


def test_activity_types_filter_what_is_listed(harness: Harness) -> None:
    harness.trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert len(_activities(harness, activity_types="FILL")) == 1
    assert _activities(harness, activity_types="DIV,JNLC") == []
