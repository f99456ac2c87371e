"""Connection limits for the uvicorn servers: a cap on live connections and a request deadline.

uvicorn (0.54, h11) closes a kept-alive connection after `timeout_keep_alive`, but a socket that
never sends a byte is kept forever, and `limit_concurrency` answers 503 on a socket it has
already accepted. Idle sockets then use up the process's file descriptors, and the next ledger
append fails with EMFILE. The protocols here close such sockets, and keep the count of open
connections below what the descriptor limit can hold:

- a request (head and body) must arrive within `header_timeout` seconds of the connection
  becoming idle (accepted, or its last response sent), or the connection is closed;
- at most `max_connections` connections are open; one more evicts the oldest idle connection
  (one that never sent a request first, then one kept alive between requests); when every
  connection is busy with a request, its request is answered 503 and it is closed (at most
  `REFUSING` such connections at once, beyond that it is closed at once).

The cap rule (`default_max_connections`, computed when the server is built, after the strategy
workers have started): the soft RLIMIT_NOFILE, minus the descriptors already open, minus what
asyncio may accept before any protocol sees a connection (it accepts up to `ACCEPT_BATCH`
sockets per loop iteration, and builds transports and calls `connection_made` one and two
iterations later, so up to three batches are in flight), minus `REFUSING`, minus
`RESERVED_FDS` for what the process opens later: ledger and journal appends, the broker's HTTP
connections, restarted workers. So connections never take the descriptor a ledger append
needs. One capped server per process (each computes its cap from the whole limit).
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

log = logging.getLogger("qtc.connections")

DEFAULT_HEADER_TIMEOUT = 10.0
ACCEPT_BATCH = 128  # uvicorn's `backlog`: what asyncio accepts per loop iteration
ACCEPT_BURST = 3 * ACCEPT_BATCH
KERNEL_BACKLOG = 1024
REFUSING = 32
RESERVED_FDS = 128
MAX_CONNECTIONS_CEILING = 4096  # beyond the descriptor question, each connection costs memory
MIN_CONNECTIONS = 16
WARN_EVERY_S = 60.0
REFUSAL = b'{"detail":"too many connections, try again later"}'


def default_max_connections(soft_limit: int | None = None, in_use: int | None = None) -> int:
    """The cap for a process whose soft RLIMIT_NOFILE is `soft_limit` with `in_use`
    descriptors open (default: this process's, now)."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS_CEILING
    if in_use is None:
        in_use = open_descriptors()
    kept = in_use + ACCEPT_BURST + REFUSING + RESERVED_FDS
    cap = min(MAX_CONNECTIONS_CEILING, soft_limit - kept)
    if cap < MIN_CONNECTIONS:
        log.warning(
            "The open-file limit (%d) is too low to reserve descriptors for the ledger; "
            "raise it (ulimit -n) to at least %d",
            soft_limit,
            kept + MIN_CONNECTIONS,
        )
        return MIN_CONNECTIONS
    return cap


def open_descriptors() -> int:
    """How many descriptors this process has open (0 where /proc is not there)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


class ListeningSocket(socket.socket):
    """A TCP socket whose kernel accept queue is KERNEL_BACKLOG long whatever asyncio asks.

    asyncio listens with the batch it accepts per iteration, but connections waiting in the
    kernel's queue use no descriptor, and a short queue drops everyone's SYNs during a flood
    (the client retries after 1 s): a longer one only makes them wait their turn."""

    def listen(self, backlog: int = KERNEL_BACKLOG, /) -> None:
        super().listen(max(backlog, KERNEL_BACKLOG))


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: a free one) to hand to `server.serve(sockets=[sock])`."""
    # proto given explicitly: asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets, and
    # without it a keep-alive client waits ~40 ms (Nagle + delayed ACK) for every answer
    sock = ListeningSocket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen()
    sock.set_inheritable(True)
    return sock


@dataclass
class ConnectionCounts:
    """What a gate did since it was built."""

    accepted: int = 0
    evicted: int = 0
    refused: int = 0
    timed_out: int = 0
    peak: int = 0


class ConnectionGate:
    """The open connections of one server: admits, evicts the oldest idle one, refuses."""

    def __init__(
        self, max_connections: int | None = None, header_timeout: float = DEFAULT_HEADER_TIMEOUT
    ) -> None:
        self.max_connections = max_connections or default_max_connections()
        self.header_timeout = header_timeout
        self.live = 0  # admitted connections not yet lost, upgraded websockets included
        self.refusing = 0  # connections over the cap waiting to be answered 503
        self.counts = ConnectionCounts()
        # insertion-ordered: the first key is the connection idle the longest
        self._fresh: dict[LimitedH11Protocol, None] = {}
        self._kept: dict[LimitedH11Protocol, None] = {}
        self._warned_at = -WARN_EVERY_S
        log.info(
            "Connections: at most %d open; a request must arrive within %gs",
            self.max_connections,
            header_timeout,
        )

    def protocols(self) -> tuple[type[H11Protocol], type[WebSocketsSansIOProtocol]]:
        """The `http` and `ws` protocol classes for `uvicorn.Config`, bound to this gate."""
        gate = self

        class Http(LimitedH11Protocol):
            limits = gate

        class WebSocket(LimitedWebSocketProtocol):
            limits = gate

        return Http, WebSocket

    def admit(self, conn: LimitedH11Protocol) -> bool:
        """Count a new connection in, evicting the oldest idle one at the cap; False: it is
        over the cap (then `refuse` says how)."""
        if self.live >= self.max_connections:
            victim = next(iter(self._fresh), None) or next(iter(self._kept), None)
            if victim is None:
                self.counts.refused += 1
                self._warn()
                return False
            self.idle_ended(victim)
            victim.close_idle()
            self.counts.evicted += 1
            self._warn()
        self.live += 1
        self.counts.accepted += 1
        self.counts.peak = max(self.counts.peak, self.live)
        self._fresh[conn] = None
        return True

    def refuse(self) -> bool:
        """True: the refused connection may wait for its request to answer it 503."""
        if self.refusing >= REFUSING:
            return False
        self.refusing += 1
        return True

    def idle_ended(self, conn: LimitedH11Protocol) -> None:
        """`conn` is serving a request, being upgraded or closed: no longer evictable."""
        self._fresh.pop(conn, None)
        self._kept.pop(conn, None)

    def kept_alive(self, conn: LimitedH11Protocol) -> None:
        """`conn` answered its request and waits for the next one."""
        self._fresh.pop(conn, None)
        self._kept.pop(conn, None)
        self._kept[conn] = None

    def release(self, conn: LimitedH11Protocol | None = None) -> None:
        """`conn` (or an upgraded websocket) is closed: its descriptor is free again."""
        if conn is not None:
            self.idle_ended(conn)
        self.live -= 1

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "Connection cap reached (%d open): so far %d idle connections evicted, "
                "%d refused, %d timed out",
                self.live,
                self.counts.evicted,
                self.counts.refused,
                self.counts.timed_out,
            )


async def _refuse(scope: Any, receive: Any, send: Any) -> None:
    """The answer to a request over the cap."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(REFUSAL)).encode()),
                (b"connection", b"close"),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": REFUSAL})


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under a `ConnectionGate` (bound by `ConnectionGate.protocols`)."""

    limits: ClassVar[ConnectionGate]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._place: str | None = None  # "admitted" | "refusing" | None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        if self.limits.admit(self):
            self._place = "admitted"
        elif self.limits.refuse():
            # read its request before answering: closing with it unread would reset the
            # connection and the client would never see the 503
            self._place = "refusing"
            self.app = _refuse
        else:
            self.transport.abort()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._place == "admitted":
            self.limits.release(self)
        elif self._place == "refusing":
            self.limits.refusing -= 1
        self._place = None
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self.limits.idle_ended(self)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):  # the request is in
            self._disarm()

    def on_response_complete(self) -> None:
        # before uvicorn's: it may go on with a pipelined request, which is not idle
        if self._place == "admitted" and not self.transport.is_closing():
            self.limits.kept_alive(self)
            self._arm()
        super().on_response_complete()

    def _should_upgrade(self) -> bool:
        # a refused connection's upgrade request is answered 503 like any other
        return self._place == "admitted" and super()._should_upgrade()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # the connection's place under the cap passes to the websocket protocol
        self._disarm()
        self.limits.idle_ended(self)
        self._place = None
        super().handle_websocket_upgrade(event)

    def close_idle(self) -> None:
        """Close a connection the gate evicts."""
        self._disarm()
        # abort, not close: close waits for a client that does not read to take what is left
        self.transport.abort()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self.limits.counts.timed_out += 1
        self.transport.abort()


class LimitedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol; it holds the place its upgraded h11 connection had."""

    limits: ClassVar[ConnectionGate]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.limits.release()
