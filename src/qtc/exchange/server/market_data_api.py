"""Minute bars in Alpaca's market-data shapes, for alpaca-py's stock and crypto data clients."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from qtc.domain.market import Bar, is_crypto
from qtc.exchange.server.alpaca_json import bar_json
from qtc.exchange.server.query_params import query_time
from qtc.exchange.server.state import CODE_INVALID, AlpacaError, ExchangeState

MAX_PAGE = 10_000
# Never scan more minutes than this per symbol and request: ten days of crypto minutes.
MAX_SCAN_MINUTES = 14_400
MINUTE_TIMEFRAMES = frozenset({"1Min", "1T", "1min"})


def market_data_routes(state: ExchangeState) -> APIRouter:
    """`/v2/stocks/bars[/latest]` and `/v1beta3/crypto/us/bars` / `/latest/bars`."""
    router = APIRouter()

    @router.get("/v2/stocks/bars")
    async def stock_bars(request: Request) -> Response:
        return JSONResponse(_bars_page(state, request.query_params, crypto=False))

    @router.get("/v2/stocks/bars/latest")
    async def stock_latest_bars(request: Request) -> Response:
        return JSONResponse(_latest(state, request.query_params, crypto=False))

    @router.get("/v1beta3/crypto/us/bars")
    async def crypto_bars(request: Request) -> Response:
        return JSONResponse(_bars_page(state, request.query_params, crypto=True))

    @router.get("/v1beta3/crypto/us/latest/bars")
    async def crypto_latest_bars(request: Request) -> Response:
        return JSONResponse(_latest(state, request.query_params, crypto=True))

    return router


def _symbols(state: ExchangeState, params: Mapping[str, str], crypto: bool) -> list[str]:
    raw = params.get("symbols", "")
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    if not wanted:
        raise AlpacaError(400, CODE_INVALID, "symbols is required")
    known = set(state.feed.universe)
    # Unknown symbols (or the other asset class) simply have no bars, as on Alpaca.
    return [s for s in wanted if s in known and is_crypto(s) == crypto]


def _latest(state: ExchangeState, params: Mapping[str, str], crypto: bool) -> dict[str, Any]:
    end = state.data_end()
    bars: dict[str, Any] = {}
    for symbol in _symbols(state, params, crypto):
        last = state.feed.history(symbol, end, 1)
        if last:
            bars[symbol] = bar_json(last[-1])
    return {"bars": bars}


def _bars_page(state: ExchangeState, params: Mapping[str, str], crypto: bool) -> dict[str, Any]:
    timeframe = params.get("timeframe", "1Min")
    if timeframe not in MINUTE_TIMEFRAMES:
        raise AlpacaError(422, CODE_INVALID, f"only 1Min bars are served, not {timeframe!r}")
    symbols = _symbols(state, params, crypto)
    data_end = state.data_end()
    end = min(query_time(params.get("end"), "end") or data_end, data_end)
    start = query_time(params.get("start"), "start") or end.replace(hour=0, minute=0)
    descending = params.get("sort") == "desc"
    rows: list[tuple[str, Bar]] = []
    for symbol in sorted(symbols):
        bars = _range(state, symbol, start, end)
        if descending:
            bars.reverse()
        rows.extend((symbol, bar) for bar in bars)
    offset = _offset(params.get("page_token"))
    size = min(_int(params, "limit") or MAX_PAGE, MAX_PAGE)
    page = rows[offset : offset + size]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for symbol, bar in page:
        grouped.setdefault(symbol, []).append(bar_json(bar))
    more = offset + size < len(rows)
    token = base64.urlsafe_b64encode(str(offset + size).encode()).decode() if more else None
    return {"bars": grouped, "next_page_token": token}


def _range(state: ExchangeState, symbol: str, start: datetime, end: datetime) -> list[Bar]:
    if end <= start:
        return []
    minutes = int((end - start) / timedelta(minutes=1)) + 1
    try:
        history = state.feed.history(symbol, end, min(minutes, MAX_SCAN_MINUTES))
    except ValueError:  # an end before the simulated market's calendar: no bars there
        return []
    return [bar for bar in history if bar.timestamp >= start]


def _int(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}: expected an integer") from e
    if number < 1:
        raise AlpacaError(422, CODE_INVALID, f"{name} must be positive")
    return number


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(int(base64.urlsafe_b64decode(token.encode()).decode()), 0)
    except ValueError as e:
        raise AlpacaError(422, CODE_INVALID, "invalid page_token") from e
