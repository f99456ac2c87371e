"""Team order routes: open orders, live stream, history, one order, cancel, replace."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from qtc.api.auth import CurrentTeam
from qtc.api.schemas import (
    CancelOut,
    ErrorOut,
    OpenOrdersOut,
    OrderOut,
    OrdersPageOut,
    ReplaceIn,
)
from qtc.api.sse import team_events
from qtc.api.state import ApiState
from qtc.domain.errors import InvalidSignal, OrderClosed, UnknownOrder
from qtc.domain.signals import ReplaceIntent, validate_signal
from qtc.views.orders import order_view

router = APIRouter(prefix="/api/v1/team/{team_id}", tags=["orders"])
_MAX_EVENT_ID = 2**63 - 1

OrderIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        description="The platform's order_id or the broker's broker_order_id.",
    ),
]


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.qtc
    return state


@router.get(
    "/orders/open",
    response_model=OpenOrdersOut,
    summary="The team's open orders, oldest first",
)
async def open_orders(request: Request, team_id: CurrentTeam) -> Response:
    """Orders not yet filled, canceled, expired or rejected, with their fills so far."""
    # In the app, OpenOrdersFastPath answers this request (same checks, same bytes) before
    # routing; this route documents it and answers whatever the fast path leaves to FastAPI.
    state = _state(request)
    body = state.open_orders.render(team_id, state.tracker.open_orders(team_id))
    return Response(content=body, media_type="application/json")


@router.get(
    "/orders/stream",
    summary="Live order updates and fills (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`event: order` (data: the order, as in OrderOut) and `event: fill` "
            "(data: the ledger line) messages as they happen, each with the team's `id:` "
            "(increasing, the same on every connection; the last 1,000 are kept for a "
            "reconnect); `event: reset` when a reconnect missed more than that; `: heartbeat` "
            "comments keep the connection alive.",
        }
    },
)
async def order_stream(
    request: Request,
    team_id: CurrentTeam,
    since: Annotated[
        int | None,
        Query(ge=0, le=_MAX_EVENT_ID, description="Resume after this event id (as `id:`)."),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=_MAX_EVENT_ID,
            description="Sent by a reconnecting EventSource; wins over `since`.",
        ),
    ] = None,
) -> StreamingResponse:
    """Every order update and fill of the team as it happens, until the client disconnects;
    after `Last-Event-ID` (or `since`), first the retained events it missed, or
    `event: reset` when some are no longer retained (reload, then carry on)."""
    state = _state(request)
    resume = last_event_id if last_event_id is not None else since
    return StreamingResponse(
        team_events(state.tracker, team_id, state.sse_heartbeat_seconds, resume),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/orders", response_model=OrdersPageOut, summary="The team's orders, newest first")
async def list_orders(
    request: Request,
    team_id: CurrentTeam,
    status: Annotated[
        Literal["open", "closed", "all"], Query(description="Which orders to list.")
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    after: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Only orders older than this order_id."),
    ] = None,
) -> JSONResponse:
    """A page of orders; pass `next_after` back as `after` for the next page."""
    state = _state(request)
    if after is not None and state.tracker.get_order(team_id, after) is None:
        raise HTTPException(422, f"after: no order {after!r} for this team")
    orders = state.tracker.list_orders(team_id, status, limit, after)
    page: dict[str, Any] = {
        "team_id": team_id,
        "status": status,
        "count": len(orders),
        "orders": [order_view(o) for o in orders],
        "next_after": orders[-1].order_id if len(orders) == limit and orders else None,
    }
    return JSONResponse(page)


@router.get("/orders/{order_id}", response_model=OrderOut, summary="One order, open or closed")
async def get_order(request: Request, team_id: CurrentTeam, order_id: OrderIdPath) -> JSONResponse:
    """The order by either id; another team's order answers 404 like a missing one."""
    order = _state(request).tracker.get_order(team_id, order_id)
    if order is None:
        raise UnknownOrder(order_id)
    return JSONResponse(order_view(order))


@router.delete(
    "/orders/{order_id}",
    response_model=CancelOut,
    summary="Cancel an open order",
    responses={
        409: {
            "model": ErrorOut,
            "description": "The order is already closed; `status` says how it ended.",
        }
    },
)
async def cancel_order(
    request: Request, team_id: CurrentTeam, order_id: OrderIdPath
) -> JSONResponse:
    """Ask the broker to cancel; fills that happened before the cancel stay in the ledger."""
    tracker = _state(request).tracker
    order = tracker.get_order(team_id, order_id)
    if order is None:
        raise UnknownOrder(order_id)
    if not order.is_open:
        raise OrderClosed(order.order_id, order.status)
    order = await tracker.cancel(team_id, order.order_id)
    return JSONResponse(
        {
            "success": True,
            "order_id": order.order_id,
            "message": f"cancel requested for order {order.order_id}",
            "status": order.status.value,
        }
    )


@router.patch(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Replace an open order (a new order takes its place)",
    responses={
        409: {"model": ErrorOut, "description": "The order is already closed."},
        422: {"model": ErrorOut, "description": "Not a change this order allows, or refused."},
    },
)
async def replace_order(
    request: Request, team_id: CurrentTeam, order_id: OrderIdPath, body: ReplaceIn
) -> JSONResponse:
    """Alpaca's replace: the old order keeps its fills and ends `replaced`; the answer is the
    new order (its `replaces` names the old one). `quantity` is the new order's own quantity
    (default: what the old one had left to fill)."""
    tracker = _state(request).tracker
    order = tracker.get_order(team_id, order_id)
    if order is None:
        raise UnknownOrder(order_id)
    if not order.is_open:
        raise OrderClosed(order.order_id, order.status)
    signal = {"action": "replace", "order_id": order.order_id, **body.given()}
    try:
        intent = validate_signal(signal, ())
        assert isinstance(intent, ReplaceIntent)
        new = await tracker.replace(team_id, order.order_id, intent)
    except InvalidSignal as e:
        raise HTTPException(422, e.message) from None
    if new.reason is not None and new.status.value == "rejected":
        raise HTTPException(422, f"replace refused: {new.reason}")
    return JSONResponse(order_view(new))
