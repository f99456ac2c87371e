"""Access log without query strings (keys travel there), and the last-resort 500 answer."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qtc.log_text import escaped

access_log = logging.getLogger("qtc.api.access")
error_log = logging.getLogger("qtc.api")

_INTERNAL_ERROR = json.dumps({"detail": "internal error"}).encode()


class AccessLogMiddleware:
    """Logs `METHOD path status ms` (never the query; control characters of the path shown as
    escapes) and turns an escaped error into a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            error_log.error(
                "Unhandled error on %s %s: %s",
                escaped(scope["method"]),
                escaped(scope["path"]),
                escaped(exc),
                exc_info=exc,
            )
            if status == 0:
                status = 500
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1fms",
                    escaped(scope["method"]),
                    escaped(scope["path"]),
                    status,
                    (time.perf_counter() - start) * 1000,
                )
