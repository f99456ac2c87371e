"""Serving the app with uvicorn so that no key ever reaches a log line."""

from __future__ import annotations

import logging
import re
from typing import Any

import uvicorn
from fastapi import FastAPI

from qtc.connection_limits import (
    ACCEPT_BATCH,
    DEFAULT_HEADER_TIMEOUT,
    ConnectionGate,
)

_KEY_IN_QUERY = re.compile(r"(?i)((?:^|[?&])(?:api_?)?key=)[^&\s\"']*")
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`...?key=SECRET&x=1` -> `...?key=***&x=1`."""
    return _KEY_IN_QUERY.sub(r"\1***", text)


class RedactKeyFilter(logging.Filter):
    """Rewrites a record's message and arguments so no `key=` value survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "key=" in record.msg.lower():
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return True


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) and "key=" in value.lower() else value


def install_redaction() -> None:
    """Attach the filter to uvicorn's loggers (idempotent)."""
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeyFilter) for f in logger.filters):
            logger.addFilter(RedactKeyFilter())


def make_server(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    access_log: bool = False,
    max_connections: int | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
) -> uvicorn.Server:
    """A uvicorn server for `app` that leaves logging configuration to the caller.

    uvicorn's own access log is off by default (the app logs `METHOD path status ms` on
    `qtc.api.access`, without the query); if turned on, its lines have `key=` values redacted.
    Connections are capped (default: from the open-file limit) and must send a request within
    `header_timeout` seconds, see `qtc.connection_limits`.
    """
    install_redaction()
    http, ws = ConnectionGate(max_connections, header_timeout).protocols()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
        http=http,
        ws=ws,
        backlog=ACCEPT_BATCH,
    )
    if access_log:
        # an earlier server built with access_log=False stopped this logger propagating
        logging.getLogger("uvicorn.access").propagate = True
    return uvicorn.Server(config)


def serve(app: FastAPI, host: str, port: int, *, access_log: bool = False) -> uvicorn.Server:
    """The server for `app` on host:port; run it with `await server.serve()`."""
    return make_server(app, host, port, access_log=access_log)
