"""The one place where a request's key is checked against the team in its path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request

from qtc.api.ratelimit import retry_after_header
from qtc.api.state import ApiState
from qtc.domain.ids import TEAM_ID

TEAM_ID_REGEX = f"^{TEAM_ID}$"

TeamIdPath = Annotated[
    str,
    Path(
        description="The team's id (1-21 letters, digits or underscores).",
        pattern=TEAM_ID_REGEX,
    ),
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request may not go on: HTTP status, detail and extra headers."""

    status: int
    detail: str
    headers: dict[str, str] | None = None


def authorize(state: ApiState, team_id: str, presented: str | None) -> Refusal | None:
    """None if `presented` is the team's key and its rate allows one more request."""
    if not presented:
        return Refusal(401, "missing API key (X-API-Key header or ?key=)")
    if not state.keys.verify(team_id, presented):
        if state.keys.team_for(presented) is not None:
            return Refusal(403, "this key does not belong to this team")
        return Refusal(401, "invalid API key")
    wait = state.limiter.hit(team_id)  # one key per team
    if wait is not None:
        return Refusal(429, "too many requests", {"Retry-After": retry_after_header(wait)})
    return None


async def current_team(
    request: Request,
    team_id: TeamIdPath,
    key: Annotated[
        str | None,
        Query(description="The team's API key (for existing clients; prefer the header)."),
    ] = None,
    x_api_key: Annotated[
        str | None, Header(alias="X-API-Key", description="The team's API key.")
    ] = None,
) -> str:
    """The team in the path, once the key proves the caller is that team (401/403/429)."""
    refusal = authorize(request.app.state.qtc, team_id, x_api_key or key)
    if refusal is not None:
        raise HTTPException(refusal.status, refusal.detail, headers=refusal.headers)
    return team_id


CurrentTeam = Annotated[str, Depends(current_team)]
