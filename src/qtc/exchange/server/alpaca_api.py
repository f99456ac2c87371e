"""The local Alpaca-compatible exchange: the app, its gate (counts, faults, rate limit, auth)
and the `trade_updates` websocket; the routes live in orders_api, account_api, market_data_api."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from qtc.clock import Clock
from qtc.domain.enums import Side
from qtc.domain.orders import TradeUpdate
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.engine.minute_stepper import MinuteStepper
from qtc.exchange.server.account_api import account_routes
from qtc.exchange.server.admin_api import admin_routes
from qtc.exchange.server.alpaca_json import (
    error_json,
    trade_update_message,
)
from qtc.exchange.server.assets_api import asset_routes
from qtc.exchange.server.faults import Faults
from qtc.exchange.server.market_data_api import market_data_routes
from qtc.exchange.server.orders_api import order_routes
from qtc.exchange.server.portfolio_history import EquityHistory
from qtc.exchange.server.positions_api import position_routes
from qtc.exchange.server.state import (
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_RATE_LIMITED,
    CODE_SERVER_ERROR,
    CODE_UNAUTHORIZED,
    AlpacaError,
    ExchangeState,
    SessionCalendar,
)
from qtc.market.base import MarketFeed

log = logging.getLogger(__name__)

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
    history: EquityHistory | None = None,
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
        history=history or EquityHistory(),
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
    alpaca_routers = [
        order_routes(state),
        account_routes(state),
        position_routes(state),
        asset_routes(state),
        market_data_routes(state),
    ]
    _install_gate(app, state, [route for r in alpaca_routers for route in r.routes])
    for router in [*alpaca_routers, admin_routes(state)]:
        app.include_router(router)

    @app.websocket(STREAM_PATH)
    async def trade_updates(websocket: WebSocket) -> None:
        await state.hub.serve(websocket)

    return app


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
        intent = state.intent(update.order.broker_order_id)
        position = positions.get(symbol, Decimal(0))
        state.hub.publish(trade_update_message(update, position, intent, state.intent))

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
