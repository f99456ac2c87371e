"""`GET .../orders/open` answered before FastAPI's routing: the route polled hardest.

Same checks (`authorize`) and the same cached bytes as the documented route in
routes/orders.py, without dependency injection and validation on every call. Anything that is
not a plain well-formed request for this route falls through to FastAPI unchanged.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from qtc.api.auth import authorize
from qtc.api.state import ApiState
from qtc.domain.ids import TEAM_ID

_OPEN_ORDERS = re.compile(f"^/api/v1/team/({TEAM_ID})/orders/open$")
_JSON = (b"content-type", b"application/json")


class OpenOrdersFastPath:
    """ASGI middleware serving the open-orders route from the per-team JSON cache."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            _OPEN_ORDERS.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "GET"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        team_id = match.group(1)
        refusal = authorize(self.state, team_id, key)
        if refusal is not None:
            headers = [_JSON] + [
                (k.lower().encode(), v.encode()) for k, v in (refusal.headers or {}).items()
            ]
            body = json.dumps({"detail": refusal.detail}).encode()
            await respond(send, refusal.status, headers, body)
            return
        state = self.state
        body = state.open_orders.render(team_id, state.tracker.open_orders(team_id))
        await respond(send, 200, [_JSON], body)


def presented_key(scope: Scope) -> str | None:
    """The key a raw ASGI request presents (the X-API-Key header, else the last ?key=)."""
    for name, value in scope["headers"]:
        if name == b"x-api-key" and value:
            return str(value.decode("latin-1"))
    query: bytes = scope.get("query_string", b"")
    if b"key=" not in query:
        return None
    key = None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "key":
            key = value  # the last one wins, as in FastAPI
    return key


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Answer a raw ASGI request with one whole body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
