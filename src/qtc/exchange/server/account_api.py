"""Alpaca's account routes on the local exchange: account, configurations, portfolio history,
clock, activities."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qtc.exchange.server.account_config import ConfigError
from qtc.exchange.server.alpaca_json import (
    account_json,
    clock_json,
    fill_activities,
)
from qtc.exchange.server.portfolio_history import HistoryQueryError
from qtc.exchange.server.query_params import parse_page_query, query_time
from qtc.exchange.server.state import CODE_INVALID, AlpacaError, ExchangeState, read_json_object

# Activity types this exchange produces; any other asked for is an empty list, as on Alpaca.
_PRODUCED = frozenset({"FILL"})


def account_routes(state: ExchangeState) -> APIRouter:
    """`/v2/account`, its configurations and portfolio history, `/v2/clock`, activities."""
    router = APIRouter()
    engine = state.engine

    @router.get("/v2/account")
    async def get_account() -> Response:
        return JSONResponse(account_json(engine.account(), state.created_at))

    @router.get("/v2/account/configurations")
    async def get_configurations() -> Response:
        return JSONResponse(state.configuration.as_json())

    @router.patch("/v2/account/configurations")
    async def set_configurations(request: Request) -> Response:
        body = await read_json_object(request)
        try:
            return JSONResponse(state.configuration.update(body))
        except ConfigError as e:
            raise AlpacaError(422, CODE_INVALID, str(e)) from e

    @router.get("/v2/account/portfolio/history")
    async def get_portfolio_history(request: Request) -> Response:
        params = request.query_params
        try:
            body = state.history.query(
                state.now(),
                params.get("period") or None,
                params.get("timeframe") or None,
                query_time(params.get("start"), "start"),
                query_time(params.get("end"), "end"),
            )
        except HistoryQueryError as e:
            raise AlpacaError(422, CODE_INVALID, str(e)) from e
        return JSONResponse(body)

    @router.get("/v2/clock")
    async def get_clock() -> Response:
        is_open, next_open, next_close = state.market_clock()
        return JSONResponse(clock_json(state.now(), is_open, next_open, next_close))

    @router.get("/v2/account/activities")
    async def get_all_activities(request: Request) -> Response:
        raw = request.query_params.get("activity_types") or ""
        wanted = {t.strip().upper() for t in raw.split(",") if t.strip()}
        return _activities(state, request, not wanted or bool(wanted & _PRODUCED))

    @router.get("/v2/account/activities/{activity_type}")
    async def get_activities(activity_type: str, request: Request) -> Response:
        return _activities(state, request, activity_type.upper() in _PRODUCED)

    return router


def _activities(state: ExchangeState, request: Request, fills: bool) -> Response:
    """FILL activities from the engine's executions, paged as Alpaca pages them."""
    query = parse_page_query(request.query_params)
    if not fills:
        return JSONResponse([])
    engine = state.engine
    executions = engine.executions
    order_qty: dict[str, Decimal] = {}
    for execution in executions:
        if execution.broker_order_id not in order_qty:
            order_qty[execution.broker_order_id] = engine.get(execution.broker_order_id).qty
    return JSONResponse(query.select(fill_activities(executions, order_qty)))
