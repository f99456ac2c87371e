"""Test controls under `/qtc`: faults, request stats, executions (the oracle) and manual time."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from qtc.domain.errors import OrderNotFound
from qtc.exchange.engine.minute_stepper import MAX_MINUTES_PER_ADVANCE
from qtc.exchange.server.alpaca_json import execution_json, rfc3339
from qtc.exchange.server.control_token import CONTROL_TOKEN_HEADER, check_control_token
from qtc.exchange.server.faults import FaultSettingError
from qtc.exchange.server.state import (
    CODE_INVALID,
    CODE_NOT_FOUND,
    CODE_UNPROCESSABLE,
    AlpacaError,
    ExchangeState,
    read_json_object,
)


def admin_routes(state: ExchangeState) -> APIRouter:
    """The `/qtc/*` routes; each needs the control token in the `X-QTC-Control-Token` header
    (no account key), unless the exchange was started with `--open-control`."""

    async def control_token(request: Request) -> None:
        check_control_token(state.control_token, request.headers.get(CONTROL_TOKEN_HEADER))

    router = APIRouter(prefix="/qtc", dependencies=[Depends(control_token)])
    router.include_router(_fault_routes(state))
    router.include_router(_oracle_routes(state))
    router.include_router(_time_routes(state))
    return router


def _fault_routes(state: ExchangeState) -> APIRouter:
    """Faults on demand, and the request counts they are checked against."""
    router = APIRouter()

    @router.get("/faults")
    async def get_faults() -> Response:
        return JSONResponse(state.faults.snapshot())

    @router.post("/faults")
    async def set_faults(request: Request) -> Response:
        body = await read_json_object(request, empty_ok=True)
        try:
            state.faults.update(body)
        except FaultSettingError as e:
            raise AlpacaError(422, CODE_INVALID, str(e)) from e
        return JSONResponse(state.faults.snapshot())

    @router.delete("/faults")
    async def reset_faults() -> Response:
        state.faults.reset()
        return JSONResponse(state.faults.snapshot())

    @router.get("/stats")
    async def get_stats() -> Response:
        body = state.stats.snapshot()
        body["stream"] = {
            "connections": state.hub.listening_connections,
            "events_published": state.hub.events_published,
            "drops": state.faults.drops,
        }
        return JSONResponse(body)

    @router.delete("/stats")
    async def reset_stats() -> Response:
        state.stats.reset()
        return JSONResponse(state.stats.snapshot())

    return router


def _oracle_routes(state: ExchangeState) -> APIRouter:
    """What the venue really did (every execution) and Alpaca's rarer statuses on demand."""
    router = APIRouter()

    @router.post("/orders/{order_id}/status")
    async def override_status(order_id: str, request: Request) -> Response:
        """Report an order in another status than the engine's (`{"status": "held"}`, or any
        string; `{"status": null}` clears it) — Alpaca's rarer statuses on demand."""
        body = await read_json_object(request, empty_ok=True)
        status = body.get("status")
        if status is not None and (not isinstance(status, str) or not 0 < len(status) <= 64):
            raise AlpacaError(422, CODE_INVALID, "status must be a short string or null")
        try:
            order = state.engine.get(order_id)
        except OrderNotFound as e:
            raise AlpacaError(404, CODE_NOT_FOUND, "order not found") from e
        if status is None:
            state.status_overrides.pop(order.broker_order_id, None)
        else:
            state.status_overrides[order.broker_order_id] = status
        return JSONResponse(state.render(order))

    @router.get("/executions")
    async def get_executions(client_order_id_prefix: str = "") -> Response:
        executions = [
            execution_json(e)
            for e in state.engine.executions
            if e.client_order_id.startswith(client_order_id_prefix)
        ]
        return JSONResponse({"count": len(executions), "executions": executions})

    return router


def _time_routes(state: ExchangeState) -> APIRouter:
    """The exchange's time, and moving it by hand (`--clock manual`)."""
    router = APIRouter()

    @router.get("/time")
    async def get_time() -> Response:
        return JSONResponse({"now": rfc3339(state.now()), "manual": state.stepper is not None})

    @router.post("/advance")
    async def advance(request: Request) -> Response:
        if state.stepper is None:
            raise AlpacaError(409, CODE_UNPROCESSABLE, "the clock is not manual (--clock manual)")
        minutes = (await read_json_object(request, empty_ok=True)).get("minutes", 1)
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 0 <= minutes <= MAX_MINUTES_PER_ADVANCE
        ):
            raise AlpacaError(
                422, CODE_INVALID, f"minutes must be an integer 0..{MAX_MINUTES_PER_ADVANCE}"
            )
        now = state.stepper.advance(minutes)
        # The events of those minutes go out before the reply, so a test that advanced time
        # sees their effects on the stream as soon as it sees the answer.
        await state.hub.drain()
        return JSONResponse({"now": rfc3339(now), "minutes": minutes})

    return router
