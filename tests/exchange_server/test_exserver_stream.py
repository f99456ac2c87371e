"""The `trade_updates` websocket through the real alpaca-py TradingStream, with stream faults."""

from __future__ import annotations

import json
from decimal import Decimal

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from websockets.sync.client import connect

from .conftest import KEY, SECRET, Harness, StreamRecorder, wait_until


def _resting_limit() -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1.0
    )


def test_new_partial_fill_fill_and_canceled_events(
    harness: Harness, recorder: StreamRecorder
) -> None:
    client = harness.trading
    order = client.submit_order(
        MarketOrderRequest(symbol="BTC/USD", qty=0.5, side=OrderSide.BUY, time_in_force="gtc")
    )
    for _ in range(30):
        if "fill" in recorder.events_for(order.id):
            break
        harness.advance(1)
    wait_until(lambda: "fill" in recorder.events_for(order.id), what="the fill event")
    events = recorder.events_for(order.id)
    assert events[0] == "new" and events[-1] == "fill"
    assert set(events[1:-1]) == {"partial_fill"}

    fills = [u for u in recorder.updates if str(u.order.id) == str(order.id) and u.qty]
    oracle = harness.executions()
    assert [str(u.execution_id) for u in fills] == [e["execution_id"] for e in oracle]
    assert sum(Decimal(str(u.qty)) for u in fills) == Decimal("0.5")
    assert Decimal(str(fills[-1].position_qty)) == Decimal("0.5")
    assert fills[-1].order.filled_qty == "0.5"

    resting = client.submit_order(_resting_limit())
    client.cancel_order_by_id(resting.id)
    wait_until(
        lambda: recorder.events_for(resting.id) == ["new", "canceled"], what="new then canceled"
    )


def test_fill_before_reply_sends_the_fill_before_the_submit_answers(
    harness: Harness, recorder: StreamRecorder
) -> None:
    assert harness.faults(fill_before_reply=True).status_code == 200
    order = harness.trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force="day")
    )
    recorder.mark_replied(order.id)
    wait_until(lambda: "fill" in recorder.events_for(order.id), what="the fill event")
    arrivals = [
        (event, replied) for event, oid, replied in recorder.arrivals if oid == str(order.id)
    ]
    assert arrivals == [("new", False), ("fill", False)]


def test_duplicated_events_arrive_twice(harness: Harness, recorder: StreamRecorder) -> None:
    harness.faults(duplicate_events=2)
    order = harness.trading.submit_order(_resting_limit())
    harness.trading.cancel_order_by_id(order.id)
    wait_until(
        lambda: recorder.events_for(order.id) == ["new", "new", "canceled", "canceled"],
        what="each event twice",
    )
    assert harness.stats()["stream"]["events_published"] == 2


def test_reordered_events_are_released_in_reverse(
    harness: Harness, recorder: StreamRecorder
) -> None:
    harness.faults(reorder_events=2)
    order = harness.trading.submit_order(_resting_limit())
    harness.trading.cancel_order_by_id(order.id)
    wait_until(lambda: recorder.events_for(order.id) == ["canceled", "new"], what="reversed events")
    later = harness.trading.submit_order(_resting_limit())
    wait_until(lambda: recorder.events_for(later.id) == ["new"], what="normal order again")


def test_reorder_hold_releases_a_short_batch_after_a_while(
    harness: Harness, recorder: StreamRecorder
) -> None:
    harness.faults(reorder_events=5, reorder_hold_ms=200)
    order = harness.trading.submit_order(_resting_limit())
    wait_until(lambda: recorder.events_for(order.id) == ["new"], what="the held event")


def test_dropped_stream_reconnects_and_events_resume(
    harness: Harness, recorder: StreamRecorder
) -> None:
    harness.faults(drop_stream=True)
    wait_until(lambda: harness.stats()["stream"]["drops"] == 1, what="the drop")
    wait_until(
        lambda: harness.stats()["stream"]["connections"] == 1, what="TradingStream to reconnect"
    )
    order = harness.trading.submit_order(_resting_limit())
    wait_until(lambda: recorder.events_for(order.id) == ["new"], what="events after reconnect")


def test_websocket_handshake_and_bad_credentials(harness: Harness) -> None:
    url = harness.server.stream_url
    with connect(url, open_timeout=5) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": "x"}}))
        reply = json.loads(ws.recv(timeout=5))
        assert reply == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "authenticate"},
        }
    with connect(url, open_timeout=5) as ws:
        auth = {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}
        ws.send(json.dumps(auth))
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "authorized"
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {
            "stream": "listening",
            "data": {"streams": ["trade_updates"]},
        }
        order = harness.trading.submit_order(_resting_limit())
        event = json.loads(ws.recv(timeout=5))
        assert event["stream"] == "trade_updates"
        assert event["data"]["event"] == "new"
        assert event["data"]["order"]["id"] == str(order.id)
