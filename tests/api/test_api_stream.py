"""Live updates: the team's order updates and fills arrive as Server-Sent Events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import CountingTracker, Stack

STREAM = "/api/v1/team/alpha/orders/stream"


def _events(lines: Iterator[str], deadline: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs from SSE lines until `deadline` (monotonic)."""
    kind, data = "", ""
    for line in lines:
        if time.monotonic() > deadline:
            return
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


def _wait_connected(lines: Iterator[str]) -> None:
    for _, line in zip(range(10), lines, strict=False):
        if line == ": connected":
            return
    raise AssertionError("the stream never said it was connected")


def test_a_fill_reaches_the_stream_within_a_second(stack: Stack) -> None:
    ours = stack.place("alpha", "AAPL", "buy", "5", "99")
    theirs = stack.place("beta", "AAPL", "buy", "5", "99")
    headers = {"X-API-Key": stack.key["alpha"]}
    with (
        httpx.Client(base_url=stack.base_url, timeout=5) as client,
        client.stream("GET", STREAM, headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        _wait_connected(lines)

        stack.trade_minute("AAPL", low="98", high="101", volume="1000")
        filled_at = time.monotonic()

        seen_orders: set[str] = set()
        fill: dict[str, Any] | None = None
        order_filled = False
        for kind, data in _events(lines, deadline=filled_at + 5):
            seen_orders.add(data["order_id"])
            if kind == "fill" and data["order_id"] == ours.order_id:
                fill = data
                fill_latency = time.monotonic() - filled_at
            if kind == "order" and data["status"] == "filled":
                order_filled = True
                shown = client.get(f"/api/v1/team/alpha/orders/{ours.order_id}", headers=headers)
                assert data == shown.json()
            if fill is not None and order_filled:
                break

    assert fill is not None, "no fill event"
    assert fill_latency < 1.0
    assert fill["quantity"] == "5" and fill["execution_price"] == "99"
    assert order_filled
    assert seen_orders == {ours.order_id}
    assert theirs.order_id not in seen_orders


def test_heartbeats_keep_an_idle_stream_alive(stack: Stack) -> None:
    headers = {"X-API-Key": stack.key["alpha"]}
    with (
        httpx.Client(base_url=stack.base_url, timeout=5) as client,
        client.stream("GET", STREAM, headers=headers) as r,
    ):
        lines = r.iter_lines()
        _wait_connected(lines)
        beats = 0
        for _, line in zip(range(20), lines, strict=False):
            beats += line == ": heartbeat"
            if beats == 2:
                break
    assert beats == 2


def test_a_disconnected_client_is_unsubscribed(
    counted_stack: tuple[Stack, CountingTracker],
) -> None:
    stack, counting = counted_stack
    headers = {"X-API-Key": stack.key["alpha"]}
    with (
        httpx.Client(base_url=stack.base_url, timeout=5) as client,
        client.stream("GET", STREAM, headers=headers) as r,
    ):
        lines = r.iter_lines()  # held: dropping it would close the connection already
        _wait_connected(lines)
        assert counting.subscribers == 1
    stack.wait_for(lambda: counting.subscribers == 0, "the stream to unsubscribe")
