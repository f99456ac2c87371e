"""AlpacaBroker under the exchange's injected faults: 429 bursts, 5xx, dropped streams, auth."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from qtc.alpaca.broker import RetryPolicy
from qtc.alpaca.budget import RequestBudget
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import BrokerAuthError, BrokerUnavailable, OrderNotFound, RateLimited
from qtc.domain.ids import new_order_id
from qtc.domain.orders import OrderRequest, StreamConnected, TradeUpdate


def limit_buy(qty: str = "1", price: str = "90") -> OrderRequest:
    return OrderRequest(
        client_order_id=new_order_id("team1"),
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(qty),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY,
        limit_price=Decimal(price),
    )


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_a_429_burst_is_retried_until_the_submit_succeeds(exchange: Any) -> None:
    broker = exchange.broker()
    try:
        exchange.faults(http_429=3)
        request = limit_buy()
        placed = await broker.submit(request)
        assert placed.status is OrderStatus.NEW
        assert exchange.orders_with_client_id(request.client_order_id) == 1
        # every try was a real request, counted by the adapter and seen by the exchange
        assert broker.requests_sent == 4
        assert exchange.stats()["requests_total"] == 4
    finally:
        await broker.close()


async def test_a_429_burst_longer_than_the_budget_is_rate_limited_after_exactly_it(
    exchange: Any,
) -> None:
    broker = exchange.broker(retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05))
    try:
        exchange.faults(http_429=5)
        with pytest.raises(RateLimited):
            await broker.list_orders()
        # alpaca-py's own 429 retries are off: each of our tries is exactly one request
        assert broker.requests_sent == 2
        assert exchange.stats()["requests_total"] == 2
    finally:
        await broker.close()


async def test_a_5xx_on_submit_is_unavailable_and_never_resubmitted(exchange: Any) -> None:
    broker = exchange.broker()
    try:
        exchange.faults(http_5xx=1)
        request = limit_buy()
        with pytest.raises(BrokerUnavailable):
            await broker.submit(request)
        assert exchange.orders_with_client_id(request.client_order_id) == 0
        with pytest.raises(OrderNotFound):
            await broker.get_order_by_client_id(request.client_order_id)
        per_endpoint = exchange.stats()["per_endpoint"]
        assert per_endpoint["POST /v2/orders"] == 1
    finally:
        await broker.close()


async def test_a_timed_out_submit_is_unavailable_and_never_resent(exchange: Any) -> None:
    broker = exchange.broker(request_timeout=0.2, retry=RetryPolicy(attempts=2, base_delay=0.01))
    try:
        exchange.faults(latency_ms=500)
        request = limit_buy()
        with pytest.raises(BrokerUnavailable):
            await broker.submit(request)
        exchange.faults(latency_ms=0)
        assert exchange.stats()["per_endpoint"]["POST /v2/orders"] == 1
        with pytest.raises(OrderNotFound):
            await broker.get_order_by_client_id(request.client_order_id)
        assert exchange.orders_with_client_id(request.client_order_id) == 0
    finally:
        await broker.close()


async def test_reads_are_retried_through_5xx(exchange: Any) -> None:
    broker = exchange.broker()
    try:
        placed = await broker.submit(limit_buy())
        exchange.faults(http_5xx=2, status_5xx=503)
        again = await broker.get_order(placed.broker_order_id)
        assert again.client_order_id == placed.client_order_id
    finally:
        await broker.close()


async def test_a_dropped_stream_reconnects_and_says_so(exchange: Any) -> None:
    broker = exchange.broker()
    try:
        updates = broker.updates()
        assert isinstance(await asyncio.wait_for(anext(updates), 10), StreamConnected)
        exchange.faults(drop_stream=True)
        assert isinstance(await asyncio.wait_for(anext(updates), 10), StreamConnected)
        placed = await broker.submit(limit_buy())
        event = await asyncio.wait_for(anext(updates), 10)
        assert isinstance(event, TradeUpdate)
        assert (event.event, event.order.broker_order_id) == (
            TradeEvent.NEW,
            placed.broker_order_id,
        )
        assert exchange.stats()["stream"]["connections"] == 1
    finally:
        await broker.close()


async def test_close_ends_the_update_stream(exchange: Any) -> None:
    broker = exchange.broker()
    updates = broker.updates()
    assert isinstance(await asyncio.wait_for(anext(updates), 10), StreamConnected)
    await broker.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(updates), 5)
    deadline = time.monotonic() + 5
    while exchange.stats()["stream"]["connections"] != 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_wrong_credentials_are_an_auth_error(exchange: Any) -> None:
    broker = exchange.broker(key="not-the-key")
    try:
        with pytest.raises(BrokerAuthError):
            await broker.list_orders()
    finally:
        await broker.close()


async def test_a_burst_never_exceeds_the_limiter_and_no_call_is_dropped(exchange: Any) -> None:
    window = 0.4
    broker = exchange.broker(limiter=RequestBudget(limit=4, window=window))
    try:
        placed = await broker.submit(limit_buy())
        exchange.arrivals.clear()
        results = await asyncio.gather(
            *(broker.get_order(placed.broker_order_id) for _ in range(12))
        )
        assert [r.broker_order_id for r in results] == [placed.broker_order_id] * 12
        assert len(exchange.arrivals) == 12
        # arrivals may bunch up a little on the way; a tenth of the window absorbs that
        assert max_in_window(exchange.arrivals, window * 0.9) <= 4
    finally:
        await broker.close()
