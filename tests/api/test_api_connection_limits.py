"""The served API's connection limits, over real uvicorn and real sockets on 127.0.0.1: a socket
that sends no request is closed, connections above the cap evict the oldest idle ones, and
when every connection is busy a new one is answered 503; a team's request still works."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets.sync.client
from tests.api.conftest import START
from tests.support.waiting import wait_until

from qtc.api.app import create_app
from qtc.api.keys import KeyStore
from qtc.api.server import make_server
from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.connection_limits import bind_socket
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.server.local_exchange import ExchangeConfig, build_local_exchange
from qtc.exchange.server.thread import uvicorn_config
from qtc.store.files import FileStore
from qtc.tracking.tracker import OrderTracker

CAP = 4
HEADER_TIMEOUT = 0.5
LONG_TIMEOUT = 60.0  # for tests where only the cap may close a socket
DEADLINE = 10.0


@dataclass
class Served:
    """A real uvicorn server on a loop thread, and a team's key for it."""

    port: int
    key: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def orders(self, timeout: float = DEADLINE) -> httpx.Response:
        """A team's authenticated request on a new connection."""
        return httpx.get(
            f"{self.url}/api/v1/team/alpha/orders/open",
            headers={"X-API-Key": self.key},
            timeout=timeout,
        )


@contextmanager
def _serve(server: uvicorn.Server, sock: socket.socket) -> Iterator[None]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="limited-server", daemon=True)
    thread.start()
    task = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), loop)
    try:
        wait_until(lambda: server.started or task.done(), DEADLINE, "uvicorn to start")
        assert not task.done(), task.exception()
        yield
    finally:
        server.should_exit = True
        try:
            task.result(timeout=DEADLINE)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(DEADLINE)
            loop.close()
            sock.close()


@pytest.fixture
def serve_api(tmp_path: Path) -> Iterator[Callable[[float], Served]]:
    """Start the team API over a real tracker, capped at CAP connections, with this header
    timeout; stopped afterwards."""
    with ExitStack() as running:
        started: list[Served] = []

        def start(header_timeout: float) -> Served:
            folder = tmp_path / f"api{len(started)}"
            started.append(running.enter_context(_team_api(folder, header_timeout)))
            return started[-1]

        yield start


@pytest.fixture
def api(serve_api: Callable[[float], Served]) -> Served:
    return serve_api(HEADER_TIMEOUT)


@contextmanager
def _team_api(tmp_path: Path, header_timeout: float) -> Iterator[Served]:
    clock = ManualClock(START)
    engine = ExchangeEngine(seed=7, symbols={"AAPL": Decimal("100")})
    broker = SimulatedBroker(engine, clock)
    tracker = OrderTracker(
        store=FileStore(tmp_path / "data"),
        broker=broker,
        clock=clock,
        teams={"alpha": Decimal("100000")},
    )
    keys = KeyStore(tmp_path / "data" / "api_keys.json")
    key = keys.issue("alpha")
    app = create_app(tracker, keys, sse_heartbeat_seconds=0.2)
    sock = bind_socket()
    port = sock.getsockname()[1]
    server = make_server(app, port=port, max_connections=CAP, header_timeout=header_timeout)
    with _serve(server, sock):
        yield Served(port, key)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    sock.settimeout(0)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_a_socket_that_sends_nothing_is_closed_after_the_header_timeout(api: Served) -> None:
    silent = _connect(api.port)
    started = time.monotonic()
    wait_until(lambda: _closed_by_server(silent), DEADLINE, "the silent socket to be closed")
    waited = time.monotonic() - started
    silent.close()
    print(f"silent socket closed after {waited:.2f}s (header timeout {HEADER_TIMEOUT}s)")
    assert api.orders().status_code == 200


def test_a_request_head_that_never_ends_is_closed(api: Served) -> None:
    slow = _connect(api.port)
    slow.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
    wait_until(lambda: _closed_by_server(slow), DEADLINE, "the unfinished head to be closed")
    slow.close()


def test_a_kept_alive_client_is_answered_again(api: Served) -> None:
    with httpx.Client(base_url=api.url, headers={"X-API-Key": api.key}) as client:
        for _ in range(3):
            answer = client.get("/api/v1/team/alpha/orders/open")
            assert answer.status_code == 200
            assert answer.json()["open_orders_count"] == 0


def test_idle_sockets_above_the_cap_are_evicted_oldest_first(
    serve_api: Callable[[float], Served],
) -> None:
    api = serve_api(LONG_TIMEOUT)
    idle = [_connect(api.port) for _ in range(CAP * 3)]
    # each one over the cap evicts the oldest idle one
    evicted = CAP * 2
    wait_until(
        lambda: all(_closed_by_server(s) for s in idle[:evicted]),
        DEADLINE,
        "the oldest idle sockets to be evicted",
    )
    assert not any(_closed_by_server(s) for s in idle[evicted:])

    answer = api.orders()

    assert answer.status_code == 200
    assert answer.json() == {"team_id": "alpha", "open_orders_count": 0, "orders": []}
    assert _closed_by_server(idle[evicted])  # the team's connection took the oldest place
    for s in idle:
        s.close()


def test_when_every_connection_is_busy_a_new_one_is_answered_503(api: Served) -> None:
    # an order stream is busy (its request is in) however long it lasts: never evicted
    streams = []
    with httpx.Client(base_url=api.url, headers={"X-API-Key": api.key}) as client:
        for _ in range(CAP):
            stream = client.stream("GET", "/api/v1/team/alpha/orders/stream", timeout=DEADLINE)
            response = stream.__enter__()
            assert response.status_code == 200
            streams.append(stream)
        try:
            refused = api.orders()
            assert refused.status_code == 503
            assert refused.json() == {"detail": "too many connections, try again later"}
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
    wait_until(lambda: api.orders().status_code == 200, DEADLINE, "a place to be free again")


@pytest.fixture
def exchange() -> Iterator[Served]:
    """`qtc exchange`'s app served as `qtc exchange` serves it, capped at CAP connections."""
    local = build_local_exchange(ExchangeConfig(clock="manual"))
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn_config(local.app, max_connections=CAP, header_timeout=HEADER_TIMEOUT)
    with _serve(uvicorn.Server(config), sock):
        yield Served(sock.getsockname()[1])


def test_an_upgraded_websocket_holds_its_place_until_it_closes(exchange: Served) -> None:
    url = f"ws://127.0.0.1:{exchange.port}/stream"
    sockets: list[Any] = [websockets.sync.client.connect(url, open_timeout=DEADLINE)]
    sockets += [websockets.sync.client.connect(url, open_timeout=DEADLINE) for _ in range(CAP - 1)]
    try:
        refused = httpx.get(f"{exchange.url}/v2/clock", timeout=DEADLINE)
        assert refused.status_code == 503
    finally:
        for ws in sockets:
            ws.close()
    wait_until(
        lambda: httpx.get(f"{exchange.url}/v2/clock", timeout=DEADLINE).status_code != 503,
        DEADLINE,
        "the websockets' places to be free again",
    )
