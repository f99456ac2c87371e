"""Alpaca's account routes on the local exchange: account, positions, clock, activities."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qtc.exchange.server.alpaca_json import (
    account_json,
    clock_json,
    fill_activities,
    position_json,
)
from qtc.exchange.server.query_params import parse_page_query
from qtc.exchange.server.state import ExchangeState


def account_routes(state: ExchangeState) -> APIRouter:
    """`/v2/account`, `/v2/positions`, `/v2/clock`, `/v2/account/activities/{type}`."""
    router = APIRouter()
    engine = state.engine

    @router.get("/v2/account")
    async def get_account() -> Response:
        return JSONResponse(account_json(engine.account(), state.created_at))

    @router.get("/v2/positions")
    async def get_positions() -> Response:
        positions = sorted(engine.account().positions.values(), key=lambda p: p.symbol)
        return JSONResponse([position_json(p) for p in positions if p.qty != 0])

    @router.get("/v2/clock")
    async def get_clock() -> Response:
        is_open, next_open, next_close = state.market_clock()
        return JSONResponse(clock_json(state.now(), is_open, next_open, next_close))

    @router.get("/v2/account/activities/{activity_type}")
    async def get_activities(activity_type: str, request: Request) -> Response:
        if activity_type != "FILL":
            return JSONResponse([])
        query = parse_page_query(request.query_params)
        executions = engine.executions
        order_qty = {e.broker_order_id: Decimal(0) for e in executions}
        for order_id in order_qty:
            order_qty[order_id] = engine.get(order_id).qty
        activities = fill_activities(executions, order_qty)
        return JSONResponse(query.select(activities))

    return router
