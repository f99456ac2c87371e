"""Live updates: the team's order updates and fills arrive as Server-Sent Events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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


def _messages(lines: Iterator[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(id, event, data) of each message, until the first heartbeat (the end of a replay)."""
    event_id, kind, data = 0, "", ""
    for line in lines:
        if line == ": heartbeat":
            return
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            yield event_id, kind, json.loads(data)
            kind, data = "", ""


def _replay(stack: Stack, *, last_id: int | None = None, since: int | None = None) -> list[Any]:
    """What a reconnecting client gets before the stream goes quiet."""
    headers = {"X-API-Key": stack.key["alpha"]}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    params = {"since": str(since)} if since is not None else {}
    with (
        httpx.Client(base_url=stack.base_url, timeout=5) as client,
        client.stream("GET", STREAM, headers=headers, params=params) as r,
    ):
        assert r.status_code == 200, r.read()
        lines = r.iter_lines()
        _wait_connected(lines)
        return list(_messages(lines))


def _first_events(stack: Stack) -> tuple[int, str]:
    """Connect, place an order, read its first event; the id and the order, disconnected."""
    headers = {"X-API-Key": stack.key["alpha"]}
    with (
        httpx.Client(base_url=stack.base_url, timeout=5) as client,
        client.stream("GET", STREAM, headers=headers) as r,
    ):
        lines = r.iter_lines()
        _wait_connected(lines)
        order = stack.place("alpha", "AAPL", "buy", "5", "90")
        for line in lines:
            if line.startswith("id: "):
                return int(line[4:]), order.order_id
    raise AssertionError("no event")


def test_a_reconnect_gets_what_it_missed_once_in_order(stack: Stack) -> None:
    seen, first = _first_events(stack)
    # while no one listens: a partial fill of the first order, a second order canceled
    stack.trade_minute("AAPL", low="89", high="91", volume="20")
    second = stack.place("alpha", "AAPL", "buy", "1", "80")
    stack.call(lambda: stack.tracker.cancel("alpha", second.order_id))
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", second.order_id).status.value == "canceled",
        "the cancel",
    )
    missed = _replay(stack, last_id=seen)
    ids = [event_id for event_id, _, _ in missed]
    assert ids == list(range(seen + 1, seen + 1 + len(ids)))
    kinds = {(kind, data["order_id"]) for _, kind, data in missed}
    assert ("fill", first) in kinds and ("order", second.order_id) in kinds
    assert missed[-1][2]["status"] == "canceled"
    # `?since=` says the same, and a client up to date is sent nothing again
    assert _replay(stack, since=seen) == missed
    assert _replay(stack, last_id=ids[-1]) == []
    # the header wins over the query (a reconnecting EventSource keeps its first URL)
    assert _replay(stack, last_id=ids[-1], since=seen) == []


def test_an_id_of_another_run_gets_a_reset(stack: Stack) -> None:
    seen, _ = _first_events(stack)
    for stale in (5, seen + 1_000_000):
        (message,) = _replay(stack, last_id=stale)
        assert message[1] == "reset" and message[0] == seen == message[2]["last_event_id"]


def test_more_missed_than_the_window_gets_a_reset(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(tracker_options={"events_retained": 5}, sse_heartbeat_seconds=0.2)
    seen, _ = _first_events(stack)
    for n in range(7):  # one event each
        stack.place("alpha", "AAPL", "buy", "1", str(50 + n))
    newest = stack.tracker.last_event_id("alpha")
    assert newest == seen + 7
    (message,) = _replay(stack, last_id=seen)
    assert message[:2] == (newest, "reset")
    # the oldest retained event's predecessor is still a place to resume from
    assert [m[0] for m in _replay(stack, last_id=newest - 5)] == list(range(newest - 4, newest + 1))
    (message,) = _replay(stack, last_id=newest - 6)
    assert message[1] == "reset"


def test_a_malformed_resume_id_is_refused(stack: Stack) -> None:
    headers = {"X-API-Key": stack.key["alpha"]}
    with stack.client(headers=headers) as client:
        for extra, params in [({"Last-Event-ID": "abc"}, {}), ({}, {"since": "-1"})]:
            answer = client.get(STREAM, headers=extra, params=params)
            assert answer.status_code == 422 and "detail" in answer.json()
