"""Alpaca's position routes on the local exchange: list, get one, close one, close all."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from qtc.domain.decimals import dec_str, normalize
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.exchange.engine.records import Position
from qtc.exchange.server.alpaca_json import position_json
from qtc.exchange.server.assets import resolve_symbol
from qtc.exchange.server.state import (
    CODE_FORBIDDEN,
    CODE_INVALID,
    CODE_NOT_FOUND,
    AlpacaError,
    ExchangeState,
)

_HUNDRED = Decimal(100)
_QTY_STEP = Decimal("0.000000001")


def position_routes(state: ExchangeState) -> APIRouter:
    """`/v2/positions` and `/v2/positions/{symbol_or_asset_id}`: get and close."""
    router = APIRouter()
    engine = state.engine

    def render(position: Position) -> dict[str, Any]:
        available = engine.closable_qty(position.symbol)
        return position_json(position, available if position.qty > 0 else -available)

    @router.get("/v2/positions")
    async def get_positions() -> Response:
        positions = sorted(engine.account().positions.values(), key=lambda p: p.symbol)
        return JSONResponse([render(p) for p in positions if p.qty != 0])

    @router.get("/v2/positions/{symbol_or_asset_id:path}")
    async def get_position(symbol_or_asset_id: str) -> Response:
        return JSONResponse(render(_position(state, symbol_or_asset_id)))

    @router.delete("/v2/positions/{symbol_or_asset_id:path}")
    async def close_position(symbol_or_asset_id: str, request: Request) -> Response:
        position = _position(state, symbol_or_asset_id)
        qty = _close_qty(
            position, request.query_params.get("qty"), request.query_params.get("percentage")
        )
        hold = state.hub.hold()
        try:
            order = _close(state, position, qty)
        except BaseException:
            state.hub.release(hold)
            raise
        return JSONResponse(state.render(order), background=BackgroundTask(state.hub.release, hold))

    @router.delete("/v2/positions")
    async def close_all_positions(request: Request) -> Response:
        cancel = request.query_params.get("cancel_orders", "false").lower()
        if cancel not in ("true", "false"):
            raise AlpacaError(422, CODE_INVALID, "cancel_orders must be true or false")
        hold = state.hub.hold()
        try:
            if cancel == "true":
                engine.cancel_all(state.now())
            results = [_close_one(state, p) for p in engine.account().positions.values()]
        finally:
            state.hub.release(hold)
        return JSONResponse(results, status_code=207)

    return router


def _position(state: ExchangeState, raw: str) -> Position:
    """The open position named by a symbol (`BTCUSD` or `BTC/USD`) or asset id, else 404."""
    symbol = resolve_symbol(raw, state.engine.symbols)
    position = state.engine.position(symbol) if symbol is not None else None
    if position is None or position.qty == 0:
        raise AlpacaError(404, CODE_NOT_FOUND, "position does not exist")
    return position


def _close_qty(position: Position, qty: str | None, percentage: str | None) -> Decimal:
    """How much to close: `qty`, or `percentage` of the position, or all of it."""
    held = abs(position.qty)
    if qty and percentage:
        raise AlpacaError(422, CODE_INVALID, "only one of qty or percentage may be given")
    if qty:
        amount = _positive(qty, "qty")
        if amount > held:
            raise _insufficient(amount, held)
        return amount
    if percentage:
        share = _positive(percentage, "percentage")
        if share > _HUNDRED:
            raise AlpacaError(422, CODE_INVALID, "percentage must be between 0 and 100")
        amount = normalize((held * share / _HUNDRED).quantize(_QTY_STEP, rounding=ROUND_DOWN))
        if amount <= 0:
            raise AlpacaError(422, CODE_INVALID, "percentage closes less than the smallest qty")
        return amount
    return held


def _positive(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}") from e
    if not value.is_finite() or value <= 0:
        raise AlpacaError(422, CODE_INVALID, f"{name} must be > 0")
    return value


def _close(state: ExchangeState, position: Position, qty: Decimal) -> BrokerOrder:
    """Submit the market order that closes `qty` of `position`; only what open orders do not
    already take can be closed (Alpaca's 403)."""
    engine = state.engine
    available = engine.closable_qty(position.symbol)
    if qty > available:
        raise _insufficient(qty, available)
    request = OrderRequest(
        client_order_id="",
        symbol=position.symbol,
        side=Side.SELL if position.qty > 0 else Side.BUY,
        qty=qty,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC if is_crypto(position.symbol) else TimeInForce.DAY,
    )
    try:
        return engine.submit(request, state.now())
    except OrderRejected as e:
        status = 403 if e.reason.startswith("insufficient") else 422
        raise AlpacaError(
            status, CODE_FORBIDDEN if status == 403 else CODE_INVALID, e.reason
        ) from e


def _close_one(state: ExchangeState, position: Position) -> dict[str, Any]:
    """One entry of `DELETE /v2/positions`: the closing order, or why it could not be placed."""
    symbol = position.symbol.replace("/", "")
    try:
        order = _close(state, position, abs(position.qty))
    except AlpacaError as e:
        body: dict[str, Any] = {"code": e.code, "message": e.message}
        body["available"] = dec_str(state.engine.closable_qty(position.symbol))
        body["existing_qty"] = dec_str(abs(position.qty))
        return {"symbol": symbol, "status": e.status, "body": body}
    return {"symbol": symbol, "status": 200, "body": state.render(order)}


def _insufficient(requested: Decimal, available: Decimal) -> AlpacaError:
    return AlpacaError(
        403,
        CODE_FORBIDDEN,
        f"insufficient qty available for order (requested: {requested:f}, "
        f"available: {available:f})",
    )
