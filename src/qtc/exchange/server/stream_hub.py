"""The `trade_updates` websocket: Alpaca's handshake, fan-out of events, and stream faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from qtc.exchange.server.faults import Faults

log = logging.getLogger(__name__)

TRADE_UPDATES = "trade_updates"
DRAIN_TIMEOUT_S = 2.0
HOLD_LIMIT_S = 1.0


@dataclass(eq=False)
class _Connection:
    websocket: WebSocket
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    listening: bool = False
    in_flight: int = 0


class StreamHub:
    """Every open `trade_updates` connection; `publish` sends an event to those listening."""

    def __init__(self, faults: Faults, check_credentials: Callable[[str, str], bool]) -> None:
        self._faults = faults
        self._check = check_credentials
        self._connections: set[_Connection] = set()
        self._held: list[str] = []
        self._release_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holds: set[int] = set()
        self._next_hold = 0
        self._on_hold: list[str] = []
        self.events_published = 0
        faults.on_drop(self._drop_threadsafe)

    @property
    def listening_connections(self) -> int:
        """How many authenticated connections listen to `trade_updates`."""
        return sum(1 for c in self._connections if c.listening)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the server's event loop so faults switched from other threads reach it."""
        self._loop = loop

    def publish(self, message: dict[str, Any]) -> None:
        """Queue one `trade_updates` message for every listener, applying stream faults.

        Must run on the server's event loop thread."""
        self.events_published += 1
        text = json.dumps(message, separators=(",", ":"))
        copies = 2 if self._faults.take_duplicate() else 1
        if self._faults.reorder_events > 0:
            self._faults.reorder_events -= 1
            self._held.extend([text] * copies)
            if self._faults.reorder_events == 0:
                self._release_held()
            elif self._release_handle is None:
                loop = asyncio.get_running_loop()
                delay = self._faults.reorder_hold_ms / 1000
                self._release_handle = loop.call_later(delay, self._release_held)
            return
        for _ in range(copies):
            self._send_all(text)

    def hold(self) -> int:
        """Keep events back (in order) until `release(token)`: a REST reply goes out before
        the events its call caused, as on Alpaca. Released anyway after a second."""
        self._next_hold += 1
        token = self._next_hold
        self._holds.add(token)
        asyncio.get_running_loop().call_later(HOLD_LIMIT_S, self.release, token)
        return token

    def release(self, token: int) -> None:
        """End one hold; when none is left, send what was kept back (idempotent)."""
        self._holds.discard(token)
        if not self._holds:
            kept, self._on_hold = self._on_hold, []
            for text in kept:
                self._send_all(text)

    async def drain(self) -> None:
        """Wait (bounded) until every queued message was written to its socket."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT_S
        while loop.time() < deadline:
            if all(c.queue.empty() and c.in_flight == 0 for c in self._connections):
                return
            await asyncio.sleep(0.001)

    def drop_all(self) -> None:
        """Close every connection (the `drop_stream` fault); must run on the loop thread."""
        for connection in list(self._connections):
            connection.listening = False
            connection.queue.put_nowait(None)
        log.info("Dropped %d trade_updates connections", len(self._connections))

    async def serve(self, websocket: WebSocket) -> None:
        """Run one client connection: authenticate, listen, then send events until it ends."""
        await websocket.accept()
        self._loop = asyncio.get_running_loop()
        connection = _Connection(websocket)
        self._connections.add(connection)
        sender = asyncio.create_task(self._send_loop(connection))
        try:
            authorized = False
            while True:
                raw = await websocket.receive()
                if raw["type"] == "websocket.disconnect":
                    break
                text = raw.get("text") or (raw.get("bytes") or b"").decode("utf-8", "replace")
                reply = self._handle(connection, text, authorized)
                if reply is None:
                    continue
                if reply.get("stream") == "authorization":
                    authorized = reply["data"]["status"] == "authorized"
                await _send_now(connection, reply)
                if reply.get("stream") == "authorization" and not authorized:
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            connection.listening = False
            self._connections.discard(connection)
            connection.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    def _handle(
        self, connection: _Connection, text: str, authorized: bool
    ) -> dict[str, Any] | None:
        try:
            message = json.loads(text)
        except ValueError:
            return _error("invalid syntax")
        if not isinstance(message, dict):
            return _error("invalid syntax")
        action = message.get("action")
        raw_data = message.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        if action in ("authenticate", "auth"):
            key = str(data.get("key_id", message.get("key", "")))
            secret = str(data.get("secret_key", message.get("secret", "")))
            status = "authorized" if self._check(key, secret) else "unauthorized"
            return {"stream": "authorization", "data": {"status": status, "action": action}}
        if action == "listen":
            if not authorized:
                return _error("access key verification failed")
            raw_streams = data.get("streams")
            streams: list[Any] = raw_streams if isinstance(raw_streams, list) else []
            connection.listening = TRADE_UPDATES in streams
            listened = [TRADE_UPDATES] if connection.listening else []
            return {"stream": "listening", "data": {"streams": listened}}
        return _error("invalid action")

    def _send_all(self, text: str) -> None:
        if self._holds:
            self._on_hold.append(text)
            return
        for connection in self._connections:
            if connection.listening:
                connection.queue.put_nowait(text)

    def _release_held(self) -> None:
        if self._release_handle is not None:
            self._release_handle.cancel()
            self._release_handle = None
        held, self._held = self._held, []
        for text in reversed(held):
            self._send_all(text)

    def _drop_threadsafe(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.drop_all()
        else:
            loop.call_soon_threadsafe(self.drop_all)

    async def _send_loop(self, connection: _Connection) -> None:
        while True:
            text = await connection.queue.get()
            if text is None:
                with contextlib.suppress(Exception):
                    await connection.websocket.close(code=1001)
                return
            connection.in_flight += 1
            try:
                await connection.websocket.send_text(text)
            except Exception:
                return
            finally:
                connection.in_flight -= 1


def _error(message: str) -> dict[str, Any]:
    return {"stream": "listening", "data": {"error": message}}


async def _send_now(connection: _Connection, message: dict[str, Any]) -> None:
    # Handshake replies go out directly, ahead of any queued event, as Alpaca's do.
    await connection.websocket.send_text(json.dumps(message, separators=(",", ":")))
