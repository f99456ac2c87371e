"""Team account routes: ledger (trades), portfolio and errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from qtc.api.auth import CurrentTeam, authorize
from qtc.api.schemas import ErrorsOut, PortfolioOut, TradesOut, WhoAmIOut, plain
from qtc.api.state import ApiState
from qtc.domain.portfolio import Portfolio
from qtc.views.portfolio import portfolio_view

router = APIRouter(prefix="/api/v1/team/{team_id}", tags=["account"])
whoami_router = APIRouter(tags=["account"])

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="At most this many lines.")]


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.qtc
    return state


def _portfolio(state: ApiState, team_id: str) -> Portfolio:
    if team_id not in state.tracker.team_ids():
        raise HTTPException(404, "team not found in this competition")
    return state.tracker.portfolio(team_id)


@router.get("/trades", response_model=TradesOut, summary="The team's fills, newest first")
async def trades(
    request: Request,
    team_id: CurrentTeam,
    limit: LimitQuery = 100,
    order_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            description="Only this order's fills (either id), of any age, oldest first.",
        ),
    ] = None,
) -> JSONResponse:
    """Ledger lines, one per execution, as written to trades.jsonl (and its segments)."""
    tracker = _state(request).tracker
    if order_id is None:
        lines = tracker.trades(team_id, limit)
    else:
        lines = tracker.order_trades(team_id, order_id)[:limit]
    return JSONResponse({"team_id": team_id, "count": len(lines), "trades": plain(lines)})


@router.get("/portfolio", response_model=PortfolioOut, summary="The team's portfolio")
async def portfolio(request: Request, team_id: CurrentTeam) -> JSONResponse:
    """Cash, reserved and free cash, positions at the last prices, P&L and return."""
    state = _state(request)
    book = _portfolio(state, team_id)
    prices = state.prices()
    reserved = state.tracker.reserved_cash(team_id, prices)
    return JSONResponse(portfolio_view(team_id, book, prices, reserved))


@router.get("/errors", response_model=ErrorsOut, summary="The team's errors, newest first")
async def errors(request: Request, team_id: CurrentTeam, limit: LimitQuery = 100) -> JSONResponse:
    """Strategy and order errors, as written to errors.jsonl."""
    lines = _state(request).tracker.errors(team_id, limit)
    return JSONResponse({"team_id": team_id, "count": len(lines), "errors": plain(lines)})


@whoami_router.get("/api/v1/whoami", response_model=WhoAmIOut, summary="The team a key belongs to")
async def whoami(
    request: Request,
    x_api_key: Annotated[
        str | None, Header(alias="X-API-Key", description="The team's API key.")
    ] = None,
) -> JSONResponse:
    """The team whose key is in `X-API-Key` (header only: the team console sends it so, and a
    key is never put in a URL); 401 for none or an unknown key."""
    state = _state(request)
    team_id = state.keys.team_for(x_api_key) if x_api_key else None
    if team_id is None:
        detail = "invalid API key" if x_api_key else "missing API key (X-API-Key header)"
        raise HTTPException(401, detail)
    refusal = authorize(state, team_id, x_api_key)
    if refusal is not None:
        raise HTTPException(refusal.status, refusal.detail, headers=refusal.headers)
    return JSONResponse({"team_id": team_id})
