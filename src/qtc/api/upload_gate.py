"""`POST .../strategy` checked before its body is read: the key, and the declared size.

FastAPI reads (and spools) a whole multipart body before any dependency runs, so a stranger
or an oversized upload would cost the server the whole body first. This gate answers those
from the headers alone; everything else goes on to the route unchanged.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from qtc.api.auth import Refusal
from qtc.api.fast_path import presented_key, respond
from qtc.api.state import ApiState
from qtc.domain.ids import TEAM_ID
from qtc.strategies.upload_checks import MAX_UPLOAD_BYTES

_UPLOAD = re.compile(f"^/api/v1/team/({TEAM_ID})/strategy$")
_JSON = (b"content-type", b"application/json")
MULTIPART_SLACK = 64 * 1024  # the form's own part headers and boundaries around the files


class UploadGate:
    """ASGI middleware: refuses an upload by its headers (401/403, 422 too large or unsized)."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            _UPLOAD.match(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        refusal = self._refusal(scope, match.group(1)) if match is not None else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        content: dict[str, object] = {"detail": refusal.detail}
        if refusal.status == 422:
            content["reasons"] = [refusal.detail.removeprefix("strategy refused: ")]
        headers = [
            _JSON,
            *((k.lower().encode(), v.encode()) for k, v in (refusal.headers or {}).items()),
        ]
        await respond(send, refusal.status, headers, json.dumps(content).encode())

    def _refusal(self, scope: Scope, team_id: str) -> Refusal | None:
        presented = presented_key(scope)
        keys = self.state.keys
        if not presented:
            return Refusal(401, "missing API key (X-API-Key header or ?key=)")
        if not keys.verify(team_id, presented):
            if keys.team_for(presented) is not None:
                return Refusal(403, "this key does not belong to this team")
            return Refusal(401, "invalid API key")
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value.decode("latin-1")
        if length is None or not length.isdigit():
            return Refusal(422, "strategy refused: the upload needs a Content-Length header")
        if int(length) > MAX_UPLOAD_BYTES + MULTIPART_SLACK:
            return Refusal(
                422, f"strategy refused: the upload is {length} bytes (at most {MAX_UPLOAD_BYTES})"
            )
        return None
