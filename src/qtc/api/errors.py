"""Domain and framework errors mapped to HTTP in one place; every answer is `{"detail": ...}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qtc.api.ratelimit import retry_after_header
from qtc.domain.errors import (
    BrokerError,
    OrderClosed,
    OrderNotCancelable,
    RateLimited,
    ReadOnlyServer,
    TransientBrokerError,
    UnknownOrder,
)
from qtc.log_text import escaped

log = logging.getLogger("qtc.api")

NOT_FOUND = "order not found"


def _status_text(status: Any) -> str | None:
    if status is None:
        return None
    return str(getattr(status, "value", status))


def _closed(order_id: str, status: Any) -> JSONResponse:
    text = _status_text(status)
    message = f"order {order_id} is already {text}" if text else f"order {order_id} is closed"
    # the cancel answer's own fields too, so clients that print it stay readable
    return JSONResponse(
        status_code=409,
        content={
            "detail": message,
            "success": False,
            "order_id": order_id,
            "message": message,
            "status": text,
        },
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid request"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": _validation_message(exc)})


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # only the framework answers 400: a body it cannot decode (not UTF-8, not JSON, a torn
        # multipart form), a bad parameter like every other one, so the documented 422
        return JSONResponse(
            status_code=422, content={"detail": f"body: not readable ({exc.detail})"}
        )
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": str(exc.detail)},
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownOrder):
        return JSONResponse(status_code=404, content={"detail": NOT_FOUND})
    if isinstance(exc, OrderClosed):
        return _closed(exc.order_id, exc.status)
    if isinstance(exc, ReadOnlyServer):
        order_id = str(request.path_params.get("order_id", ""))
        message = str(exc)
        return JSONResponse(
            status_code=409,
            content={"detail": message, "success": False, "order_id": order_id, "message": message},
        )
    if isinstance(exc, OrderNotCancelable):
        order_id = request.path_params.get("order_id", "")
        return _closed(str(order_id), exc.status)
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return JSONResponse(
            status_code=503,
            content={"detail": "the broker is rate limiting us; retry shortly"},
            headers={"Retry-After": retry_after_header(wait)},
        )
    if isinstance(exc, TransientBrokerError):
        return JSONResponse(
            status_code=503,
            content={"detail": "the broker is unavailable; retry shortly"},
            headers={"Retry-After": "5"},
        )
    log.warning(
        "Broker error on %s %s: %s",
        escaped(request.method),
        escaped(request.url.path),
        escaped(exc),
    )
    return JSONResponse(status_code=502, content={"detail": "the broker refused the request"})


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping from exceptions to JSON error answers.

    Anything unexpected is answered `{"detail": "internal error"}` by AccessLogMiddleware.
    """
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for exc_type in (UnknownOrder, OrderClosed, ReadOnlyServer, BrokerError):
        app.add_exception_handler(exc_type, _on_domain)
