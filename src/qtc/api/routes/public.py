"""Public routes: competition status, the leaderboard and its equity curves (no key needed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from qtc.api.board import SORT_KEYS
from qtc.api.schemas import ErrorOut, HistoryOut, LeaderboardOut, StatusOut, plain
from qtc.api.state import ApiState
from qtc.domain.times import parse_time

router = APIRouter(tags=["public"])

MAX_POINTS = 5000
JSON = "application/json"
_MALFORMED: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "A malformed parameter; `detail` says which."},
}
_NO_TEAM: dict[int | str, dict[str, Any]] = {
    **_MALFORMED,
    404: {"model": ErrorOut, "description": "No such team."},
}


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.qtc
    return state


@router.get("/api/v1/status", response_model=StatusOut, summary="What the competition is doing")
async def status(request: Request) -> JSONResponse:
    """Running, market open, last minute processed, teams and open orders."""
    return JSONResponse(plain(_state(request).status()))


@router.get(
    "/leaderboard",
    response_model=LeaderboardOut,
    summary="Teams ranked by equity",
    responses=_MALFORMED,
)
@router.get(
    "/api/v1/leaderboard",
    response_model=LeaderboardOut,
    summary="Teams ranked, with metrics",
    responses=_MALFORMED,
)
async def leaderboard(
    request: Request,
    sort_by: Annotated[
        str,
        Query(
            description="Rank by this column or metric, best first, nulls last: "
            + ", ".join(SORT_KEYS)
        ),
    ] = "equity",
) -> Response:
    """Every team's equity, return and metrics, best first."""
    if sort_by not in SORT_KEYS:
        raise HTTPException(422, f"sort_by: {sort_by[:50]!r} is not one of {', '.join(SORT_KEYS)}")
    state = _state(request)
    return Response(state.board.leaderboard(state.leaderboard, sort_by), media_type=JSON)


def _time(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_time(raw)
    except (ValueError, OverflowError):
        raise HTTPException(422, f"{name}: not an ISO-8601 time: {raw[:50]!r}") from None


@router.get(
    "/api/v1/leaderboard/history",
    response_model=HistoryOut,
    summary="Equity curves, downsampled (min/max kept)",
    responses=_NO_TEAM,
)
async def history(
    request: Request,
    team: Annotated[
        list[str] | None, Query(description="A team id (repeatable); every team when absent.")
    ] = None,
    start: Annotated[str | None, Query(alias="from", description="From this time (UTC).")] = None,
    end: Annotated[
        str | None, Query(alias="to", description="Up to this time (inclusive).")
    ] = None,
    points: Annotated[
        int, Query(ge=2, le=MAX_POINTS, description="At most this many points per team.")
    ] = 200,
) -> Response:
    """Each team's equity at the end of every minute, cut to at most `points` points that
    keep each stretch's first, lowest, highest and last value."""
    low, high = _time("from", start), _time("to", end)
    if low is not None and high is not None and low > high:
        raise HTTPException(422, "from: must not be after to")
    state = _state(request)
    known = state.tracker.team_ids()
    wanted = list(dict.fromkeys(team)) if team else known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise HTTPException(404, f"no such team: {unknown[0][:50]}")
    body = state.board.history(wanted, low, high, points)
    return Response(body, media_type=JSON)
