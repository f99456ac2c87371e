"""Public routes: competition status and the leaderboard (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qtc.api.schemas import LeaderboardOut, StatusOut, plain
from qtc.api.state import ApiState

router = APIRouter(tags=["public"])


@router.get("/api/v1/status", response_model=StatusOut, summary="What the competition is doing")
async def status(request: Request) -> JSONResponse:
    """Running, market open, last minute processed, teams and open orders."""
    state: ApiState = request.app.state.qtc
    return JSONResponse(plain(state.status()))


@router.get("/leaderboard", response_model=LeaderboardOut, summary="Teams ranked by equity")
async def leaderboard(request: Request) -> JSONResponse:
    """Every team's equity and return, best first."""
    state: ApiState = request.app.state.qtc
    teams: list[dict[str, Any]] = state.leaderboard()
    return JSONResponse({"teams": plain(teams)})
