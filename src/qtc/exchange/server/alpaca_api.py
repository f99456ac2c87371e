"""The local Alpaca-compatible exchange: app factory, auth, faults, and the v2 trading routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from qtc.clock import Clock
from qtc.domain.decimals import NotANumber, bounded_decimal
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import OrderNotCancelable, OrderNotFound, OrderRejected
from qtc.domain.orders import BrokerOrder, OrderRequest, TradeUpdate
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.engine.minute_stepper import MinuteStepper
from qtc.exchange.server.admin_api import admin_routes
from qtc.exchange.server.alpaca_json import (
    account_json,
    clock_json,
    error_json,
    fill_activities,
    position_json,
    rfc3339,
    trade_update_message,
)
from qtc.exchange.server.faults import Faults
from qtc.exchange.server.market_data_api import market_data_routes
from qtc.exchange.server.query_params import parse_order_query, parse_page_query
from qtc.exchange.server.state import (
    CODE_FORBIDDEN,
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_RATE_LIMITED,
    CODE_SERVER_ERROR,
    CODE_UNAUTHORIZED,
    CODE_UNPROCESSABLE,
    AlpacaError,
    ExchangeState,
    SessionCalendar,
)
from qtc.log_text import escaped
from qtc.market.base import MarketFeed

log = logging.getLogger(__name__)

_E = TypeVar("_E", Side, OrderType, TimeInForce)

ALPACA_PREFIXES = ("/v2/", "/v1beta3/")
STREAM_PATH = "/stream"


def create_exchange_app(
    engine: ExchangeEngine,
    *,
    feed: MarketFeed,
    clock: Clock,
    api_key: str,
    api_secret: str,
    faults: Faults,
    control_token: str | None,
    calendar: SessionCalendar | None = None,
    stepper: MinuteStepper | None = None,
    driver: ExchangeDriver | None = None,
    rate_limit_per_minute: int | None = None,
) -> FastAPI:
    """Serve `engine` with Alpaca's v2 REST subset, market-data bars, the `trade_updates`
    websocket at `/stream`, and test controls under `/qtc` (`/qtc/advance` needs `stepper`)
    that answer only requests carrying `control_token` (None: anyone's).

    With `driver`, the app runs `driver.run()` while it serves (accelerated or real time)."""
    state = ExchangeState(
        engine=engine,
        feed=feed,
        clock=clock,
        api_key=api_key,
        api_secret=api_secret,
        faults=faults,
        control_token=control_token,
        calendar=calendar,
        stepper=stepper,
        rate_limit_per_minute=rate_limit_per_minute,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.hub.bind_loop(asyncio.get_running_loop())
        task = asyncio.create_task(driver.run()) if driver is not None else None
        try:
            yield
        finally:
            if task is not None and driver is not None:
                driver.stop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="QTC local Alpaca-compatible exchange",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.exchange = state
    engine.subscribe(_stream_publisher(state))
    _install_error_handlers(app)
    alpaca_routers = [trading_routes(state), market_data_routes(state)]
    _install_gate(app, state, [route for r in alpaca_routers for route in r.routes])
    for router in [*alpaca_routers, admin_routes(state)]:
        app.include_router(router)

    @app.websocket(STREAM_PATH)
    async def trade_updates(websocket: WebSocket) -> None:
        await state.hub.serve(websocket)

    return app


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


def _stream_publisher(state: ExchangeState) -> Callable[[TradeUpdate], None]:
    """The engine listener: each update becomes a `trade_updates` message with the position
    right after that execution (tracked here, because the engine reports the end state)."""
    positions: dict[str, Decimal] = {
        symbol: position.qty for symbol, position in state.engine.account().positions.items()
    }

    def publish(update: TradeUpdate) -> None:
        symbol = update.order.symbol
        if update.qty is not None and update.execution_id is not None:
            signed = update.qty if update.order.side is Side.BUY else -update.qty
            positions[symbol] = positions.get(symbol, Decimal(0)) + signed
        state.hub.publish(trade_update_message(update, positions.get(symbol, Decimal(0))))

    return publish


def _install_error_handlers(app: FastAPI) -> None:
    async def alpaca_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AlpacaError)
        return exc.response()

    async def validation_error(request: Request, exc: Exception) -> Response:
        return JSONResponse(error_json(CODE_INVALID, "invalid request"), status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = CODE_NOT_FOUND if exc.status_code == 404 else CODE_INVALID
        return JSONResponse(error_json(code, str(exc.detail).lower()), status_code=exc.status_code)

    app.add_exception_handler(AlpacaError, alpaca_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _install_gate(app: FastAPI, state: ExchangeState, routes: list[BaseRoute]) -> None:
    """Every Alpaca request is counted, then meets injected faults, the rate limit and auth."""

    @app.middleware("http")
    async def gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if not path.startswith(ALPACA_PREFIXES):
            return await call_next(request)
        key = request.headers.get("APCA-API-KEY-ID", "")
        in_window = state.stats.record(key, _endpoint_name(routes, request))
        if state.faults.latency_ms > 0:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        injected = state.faults.take_http_error()
        if injected is not None:
            return _injected_error(injected, state.rate_limit_per_minute)
        limit = state.rate_limit_per_minute
        if limit is not None and in_window > limit:
            return _injected_error(429, limit)
        secret = request.headers.get("APCA-API-SECRET-KEY", "")
        if not state.credentials_ok(key, secret):
            return JSONResponse(
                error_json(CODE_UNAUTHORIZED, "request is not authorized"), status_code=401
            )
        return await call_next(request)


def _endpoint_name(routes: list[BaseRoute], request: Request) -> str:
    """`METHOD /route/{template}` so that per-endpoint counts group by route, not by id."""
    for route in routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return f"{request.method} {getattr(route, 'path', request.url.path)}"
    return f"{request.method} {request.url.path}"


def _injected_error(status: int, limit: int | None) -> Response:
    if status == 429:
        headers = {
            "Retry-After": "1",
            "X-RateLimit-Limit": str(limit or 200),
            "X-RateLimit-Remaining": "0",
        }
        return JSONResponse(
            error_json(CODE_RATE_LIMITED, "rate limit exceeded"), status_code=429, headers=headers
        )
    return JSONResponse(error_json(CODE_SERVER_ERROR, "internal server error"), status_code=status)


def trading_routes(state: ExchangeState) -> APIRouter:
    """`/v2/orders*`, `/v2/account`, `/v2/positions`, `/v2/clock`, `/v2/account/activities`."""
    router = APIRouter()
    engine = state.engine

    @router.post("/v2/orders")
    async def submit_order(request: Request) -> Response:
        order_request = _order_request(await _json_body(request))
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
            symbols=query.symbols,
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


def _submit(
    engine: ExchangeEngine, order_request: OrderRequest, state: ExchangeState
) -> BrokerOrder:
    try:
        order = engine.submit(order_request, state.now())
    except OrderRejected as e:
        raise _rejection(e.reason) from e
    log.info("Accepted order %s for %s", order.broker_order_id, escaped(order.symbol))
    return order


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as e:
        raise AlpacaError(400, CODE_INVALID, "request body format is invalid") from e
    if not isinstance(body, dict):
        raise AlpacaError(400, CODE_INVALID, "request body format is invalid")
    return body


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
