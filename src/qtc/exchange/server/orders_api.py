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
from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.errors import OrderNotCancelable, OrderNotFound, OrderRejected
from qtc.domain.orders import BrokerOrder, OrderRequest, ReplaceRequest
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

_E = TypeVar("_E", Side, OrderType, TimeInForce, OrderClass)


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
        if query.nested:  # legs inside their parents, not listed again on their own
            legs = {leg.broker_order_id for o in orders for leg in o.legs}
            orders = [o for o in orders if o.broker_order_id not in legs]
        return JSONResponse([state.render(o, nested=query.nested) for o in orders])

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
    async def replace_order(order_id: str, request: Request) -> Response:
        change = _replace_request(await read_json_object(request))
        hold = state.hub.hold()  # `replaced` and `new` follow the answer, as Alpaca's do
        try:
            order = engine.replace(order_id, change, state.now())
        except BaseException as e:
            state.hub.release(hold)
            if isinstance(e, OrderNotFound):
                raise _not_found() from e
            if isinstance(e, OrderNotCancelable):
                raise _not_cancelable(e.status) from e
            if isinstance(e, OrderRejected):
                raise _rejection(e.reason) from e
            raise
        log.info("Replaced order %s by %s", escaped(order_id), order.broker_order_id)
        return JSONResponse(state.render(order), background=BackgroundTask(state.hub.release, hold))

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
    """Read Alpaca's order body (numbers may come as JSON numbers or strings): every type,
    `order_class` with `take_profit`/`stop_loss`, and `notional` instead of `qty`."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise AlpacaError(422, CODE_INVALID, "symbol is required")
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise AlpacaError(422, CODE_INVALID, "client_order_id must be a string")
    kind = _choice(OrderType, body.get("type", body.get("order_type")), "type")
    _refuse_unused_prices(body, kind)
    order_class = _choice(OrderClass, body.get("order_class") or "simple", "order_class")
    take_profit = _object(body, "take_profit")
    stop_loss = _object(body, "stop_loss")
    qty, notional = _amount(body)
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=_choice(Side, body.get("side"), "side"),
        qty=qty,
        order_type=kind,
        time_in_force=_choice(TimeInForce, body.get("time_in_force"), "time_in_force"),
        limit_price=_optional_number(body.get("limit_price"), "limit_price"),
        stop_price=_optional_number(body.get("stop_price"), "stop_price"),
        trail_price=_optional_number(body.get("trail_price"), "trail_price"),
        trail_percent=_optional_number(body.get("trail_percent"), "trail_percent"),
        order_class=order_class,
        take_profit_limit_price=_optional_number(
            take_profit.get("limit_price"), "take_profit.limit_price"
        ),
        stop_loss_stop_price=_optional_number(stop_loss.get("stop_price"), "stop_loss.stop_price"),
        stop_loss_limit_price=_optional_number(
            stop_loss.get("limit_price"), "stop_loss.limit_price"
        ),
        notional=notional,
    )


def _refuse_unused_prices(body: dict[str, Any], kind: OrderType) -> None:
    """Refuse, not silently drop, a price the order's type has no use for."""
    uses = {
        "limit_price": kind.has_limit,
        "stop_price": kind.has_stop,
        "trail_price": kind is OrderType.TRAILING_STOP,
        "trail_percent": kind is OrderType.TRAILING_STOP,
    }
    for name, used in uses.items():
        if body.get(name) is not None and not used:
            raise AlpacaError(422, CODE_INVALID, f"{name} is not allowed for {kind} orders")


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlpacaError(422, CODE_INVALID, f"{name} must be an object")
    return value


def _amount(body: dict[str, Any]) -> tuple[Decimal, Decimal | None]:
    """The order's qty, or its notional (the qty is then sized by the engine)."""
    if body.get("notional") is None:
        return _number(body.get("qty"), "qty"), None
    if body.get("qty") is not None:
        raise AlpacaError(422, CODE_INVALID, "qty and notional cannot both be given")
    try:
        notional = bounded_decimal(body["notional"], "price")
    except NotANumber as e:
        raise AlpacaError(422, CODE_INVALID, f"invalid notional: {str(e)[:200]}") from e
    return Decimal(0), notional


def _optional_number(value: Any, name: str) -> Decimal | None:
    return None if value is None else _number(value, name)


def _replace_request(body: dict[str, Any]) -> ReplaceRequest:
    """Read Alpaca's replace body: `qty`, `time_in_force`, `limit_price`, `stop_price`,
    `trail`, `client_order_id`, each optional."""
    client_order_id = body.get("client_order_id")
    if client_order_id is not None and not isinstance(client_order_id, str):
        raise AlpacaError(422, CODE_INVALID, "client_order_id must be a string")
    tif = body.get("time_in_force")
    return ReplaceRequest(
        qty=_optional_number(body.get("qty"), "qty"),
        time_in_force=None if tif is None else _choice(TimeInForce, tif, "time_in_force"),
        limit_price=_optional_number(body.get("limit_price"), "limit_price"),
        stop_price=_optional_number(body.get("stop_price"), "stop_price"),
        trail=_optional_number(body.get("trail"), "trail"),
        client_order_id=client_order_id or None,
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
