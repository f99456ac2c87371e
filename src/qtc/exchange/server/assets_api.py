"""Alpaca's asset and calendar routes on the local exchange."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qtc.exchange.server.alpaca_json import NEW_YORK
from qtc.exchange.server.assets import asset_class, asset_json, exchange_of, resolve_symbol
from qtc.exchange.server.state import CODE_INVALID, CODE_NOT_FOUND, AlpacaError, ExchangeState

_ASSET_CLASSES = ("us_equity", "crypto", "us_option", "crypto_perp")


def asset_routes(state: ExchangeState) -> APIRouter:
    """`/v2/assets`, `/v2/assets/{symbol_or_asset_id}` and `/v2/calendar`."""
    router = APIRouter()
    universe = sorted(state.engine.symbols)

    @router.get("/v2/assets")
    async def get_assets(request: Request) -> Response:
        params = request.query_params
        status = params.get("status") or None
        wanted_class = params.get("asset_class") or None
        exchange = params.get("exchange") or None
        if status not in (None, "active", "inactive"):
            raise AlpacaError(422, CODE_INVALID, f"invalid status {status!r}")
        if wanted_class is not None and wanted_class not in _ASSET_CLASSES:
            raise AlpacaError(422, CODE_INVALID, f"invalid asset_class {wanted_class!r}")
        chosen = [
            asset_json(s)
            for s in universe
            if status != "inactive"  # every asset this exchange trades is active
            and (wanted_class is None or asset_class(s) == wanted_class)
            and (exchange is None or exchange_of(s) == exchange)
        ]
        return JSONResponse(chosen)

    @router.get("/v2/assets/{symbol_or_asset_id:path}")
    async def get_asset(symbol_or_asset_id: str) -> Response:
        symbol = resolve_symbol(symbol_or_asset_id, universe)
        if symbol is None:
            raise AlpacaError(404, CODE_NOT_FOUND, "asset not found")
        return JSONResponse(asset_json(symbol))

    @router.get("/v2/calendar")
    async def get_calendar(request: Request) -> Response:
        calendar = state.calendar
        if calendar is None:
            return JSONResponse([])
        first = max(
            _day(request.query_params.get("start"), "start") or calendar.start, calendar.start
        )
        last = min(_day(request.query_params.get("end"), "end") or calendar.end, calendar.end)
        if last < first:
            return JSONResponse([])
        days = []
        for session in calendar.sessions_between(first, last):
            opens = session.open.astimezone(NEW_YORK)
            closes = session.close.astimezone(NEW_YORK)
            days.append(
                {
                    "date": session.day.isoformat(),
                    "open": opens.strftime("%H:%M"),
                    "close": closes.strftime("%H:%M"),
                    "session_open": "0400",
                    "session_close": "2000",
                    "settlement_date": _next_weekday(session.day).isoformat(),
                }
            )
        return JSONResponse(days)

    return router


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}: expected YYYY-MM-DD") from e


def _next_weekday(day: date) -> date:
    """T+1 settlement, skipping the weekend (holidays are not modelled here)."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return following
