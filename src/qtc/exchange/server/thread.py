"""Serve an ASGI app with uvicorn on a background thread (tests, benches, in-process use)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from qtc.connection_limits import (
    ACCEPT_BATCH,
    DEFAULT_HEADER_TIMEOUT,
    ConnectionGate,
    bind_socket,
)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def uvicorn_config(
    app: Any,
    *,
    max_connections: int | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
) -> uvicorn.Config:
    """How the exchange is served: quiet access log, websockets for `/stream`, connections
    capped (default: from the open-file limit) and timed out, see `qtc.connection_limits`."""
    http, ws = ConnectionGate(max_connections, header_timeout).protocols()
    return uvicorn.Config(
        app, log_level="warning", lifespan="on", http=http, ws=ws, backlog=ACCEPT_BATCH
    )


class ServerThread:
    """Runs `app` on 127.0.0.1 (a free port unless told) until `stop()`; a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = bind_socket(host, port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(app))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:P`: TradingClient's and the data clients' `url_override`."""
        return f"http://{self.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        """`ws://127.0.0.1:P/stream`: TradingStream's `url_override`."""
        return f"ws://{self.host}:{self.port}/stream"

    def start(self) -> ServerThread:
        """Start serving and wait (bounded) until the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the exchange server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait (bounded) for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
