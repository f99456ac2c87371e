"""Alpaca's order routes on the local exchange: submit, list, get, cancel and replace."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from qtc.domain.decimals import NotANumber, bounded_decimal
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import OrderNotCancelable, OrderNotFound, OrderRejected
from qtc.domain.orders import BrokerOrder, OrderRequest
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.server.alpaca_json import rfc3339
from qtc.exchange.server.assets import canonical
from qtc.exchange.server.query_params import parse_order_query
from qtc.exchange.server.state import (
    CODE_FORBIDDEN,
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_UNPROCESSABLE,
    AlpacaError,
    ExchangeState,
    read_json_object,
)
from qtc.log_text import escaped

log = logging.getLogger(__name__)

_E = TypeVar("_E", Side, OrderType, TimeInForce)


def order_routes(state: ExchangeState) -> APIRouter:
    """`/v2/orders` and `/v2/orders/{order_id}`: submit, list, get, cancel, replace."""
    router = APIRouter()
    engine = state.engine

    @router.post("/v2/orders")
    async def submit_order(request: Request) -> Response:
        order_request = _order_request(await read_json_object(request))
        # `BTCUSD` is `BTC/USD`, as Alpaca takes both
        symbol = canonical(order_request.symbol, engine.symbols)
        order_request = dataclasses.replace(order_request, symbol=symbol)
        if state.faults.fill_before_reply:
            order = _submit(engine, order_request, state)
            await state.hub.drain()
            await asyncio.sleep(state.faults.reply_hold_ms / 1000)
            return JSONResponse(state.render(order))
        hold = state.hub.hold()
        try:
            order = _submit(engine, order_request, state)
        except BaseException:
            state.hub.release(hold)
            raise
        return JSONResponse(state.render(order), background=BackgroundTask(state.hub.release, hold))

    @router.get("/v2/orders")
    async def list_orders(request: Request) -> Response:
        query = parse_order_query(request.query_params)
        orders = engine.list(
            query.status,
            query.after,
            query.fetch_limit,
            until=query.until,
            direction=query.direction,
            symbols=None
            if query.symbols is None
            else [canonical(s, engine.symbols) for s in query.symbols],
        )
        if query.side is not None:
            orders = [o for o in orders if o.side is query.side][: query.limit]
        return JSONResponse([state.render(o) for o in orders])

    @router.delete("/v2/orders")
    async def cancel_all_orders() -> Response:
        hold = state.hub.hold()
        canceled = engine.cancel_all(state.now())
        body = [{"id": o.broker_order_id, "status": 200, "body": state.render(o)} for o in canceled]
        return JSONResponse(
            body, status_code=207, background=BackgroundTask(state.hub.release, hold)
        )

    @router.get("/v2/orders:by_client_order_id")
    async def get_order_by_client_id(client_order_id: str = "") -> Response:
        try:
            return JSONResponse(state.render(engine.get_by_client_id(client_order_id)))
        except OrderNotFound as e:
            raise _not_found() from e

    @router.get("/v2/orders/{order_id}")
    async def get_order(order_id: str) -> Response:
        try:
            return JSONResponse(state.render(engine.get(order_id)))
        except OrderNotFound as e:
            raise _not_found() from e

    @router.delete("/v2/orders/{order_id}")
    async def cancel_order(order_id: str) -> Response:
        if state.faults.reject_cancels > 0:
            return _reject_cancel(state, order_id)
        hold = state.hub.hold()
        try:
            engine.cancel(order_id, state.now())
        except (OrderNotFound, OrderNotCancelable) as e:
            state.hub.release(hold)
            if isinstance(e, OrderNotCancelable):
                raise _not_cancelable(e.status) from e
            raise _not_found() from e
        return Response(status_code=204, background=BackgroundTask(state.hub.release, hold))

    @router.patch("/v2/orders/{order_id}")
    async def replace_order(order_id: str) -> Response:
        try:
            order = engine.get(order_id)
        except OrderNotFound as e:
            raise _not_found() from e
        if not order.status.is_open:
            raise _not_cancelable(order.status)
        # The simulated engine has no replace; an honest refusal beats a fake `replaced`.
        raise AlpacaError(422, CODE_UNPROCESSABLE, "order replace is not supported here")

    return router


def _reject_cancel(state: ExchangeState, order_id: str) -> Response:
    """Accept a cancel request, then have the venue reject it on the stream (fault)."""
    try:
        order = state.engine.get(order_id)
    except OrderNotFound as e:
        raise _not_found() from e
    if not order.status.is_open:
        raise _not_cancelable(order.status)
    state.faults.reject_cancels -= 1
    at = state.now()
    hold = state.hub.hold()  # the events follow the reply, as a real venue's would
    for event in ("pending_cancel", "order_cancel_rejected"):
        body = state.render(order)
        if event == "pending_cancel":
            body["status"] = "pending_cancel"
        message = {"event": event, "timestamp": rfc3339(at), "order": body}
        state.hub.publish({"stream": "trade_updates", "data": message})
    return Response(status_code=204, background=BackgroundTask(state.hub.release, hold))


def _submit(
    engine: ExchangeEngine, order_request: OrderRequest, state: ExchangeState
) -> BrokerOrder:
    try:
        order = engine.submit(order_request, state.now())
    except OrderRejected as e:
        raise _rejection(e.reason) from e
    log.info("Accepted order %s for %s", order.broker_order_id, escaped(order.symbol))
    return order


def _order_request(body: dict[str, Any]) -> OrderRequest:
    """Read Alpaca's order body (numbers may come as JSON numbers or strings)."""
    if body.get("notional") is not None:
        raise AlpacaError(422, CODE_INVALID, "notional orders are not supported by this exchange")
    if body.get("order_class") not in (None, "", "simple"):
        raise AlpacaError(422, CODE_INVALID, "only simple orders are supported")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise AlpacaError(422, CODE_INVALID, "symbol is required")
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise AlpacaError(422, CODE_INVALID, "client_order_id must be a string")
    limit_price = body.get("limit_price")
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=_choice(Side, body.get("side"), "side"),
        qty=_number(body.get("qty"), "qty"),
        order_type=_choice(OrderType, body.get("type", body.get("order_type")), "type"),
        time_in_force=_choice(TimeInForce, body.get("time_in_force"), "time_in_force"),
        limit_price=None if limit_price is None else _number(limit_price, "limit_price"),
    )


def _choice(enum: type[_E], value: Any, name: str) -> _E:
    try:
        return enum(value)
    except ValueError as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}: {value!r}") from e


def _number(value: Any, name: str) -> Decimal:
    if value is None:
        raise AlpacaError(422, CODE_INVALID, f"{name} is required")
    try:
        return bounded_decimal(value, "quantity" if name == "qty" else "price")
    except NotANumber as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid {name}: {str(e)[:200]}") from e


def _rejection(reason: str) -> AlpacaError:
    """Alpaca answers 403 for what the account cannot afford or hold, 422 for the rest."""
    if reason.startswith("insufficient"):
        return AlpacaError(403, CODE_FORBIDDEN, reason)
    return AlpacaError(422, CODE_INVALID, reason)


def _not_cancelable(status: object) -> AlpacaError:
    return AlpacaError(422, CODE_UNPROCESSABLE, f'order is already in "{status}" state')


def _not_found() -> AlpacaError:
    return AlpacaError(404, CODE_NOT_FOUND, "order not found")
