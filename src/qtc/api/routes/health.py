"""Operations routes: liveness, readiness and Prometheus metrics (no key; served like the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from qtc.api.schemas import ErrorOut, HealthOut, ReadinessOut
from qtc.api.state import ApiState

router = APIRouter(tags=["operations"])

_HEALTHY = b'{"status":"ok"}'


@router.get("/healthz", response_model=HealthOut, summary="The process is up")
async def healthz() -> Response:
    """200 while the process serves requests; checks nothing else."""
    return Response(_HEALTHY, media_type="application/json")


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    summary="The run is doing its job",
    responses={503: {"model": ReadinessOut, "description": "A check failed (see `failed`)."}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when the broker answered at the last reconcile or request, order updates arrive
    (stream connected, or polling works) and the last minute is recent (none is expected while
    the market is closed); otherwise 503. The body says which check failed, and why."""
    state: ApiState = request.app.state.qtc
    ready, body = state.readiness()
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {"schema": {"type": "string"}}}},
        404: {"model": ErrorOut, "description": "Metrics are off (`QTC_METRICS_ENABLED`)."},
    },
)
async def metrics(request: Request) -> Response:
    """The run's series in Prometheus' text format. Read on the event loop, so that the
    values read from the tracker are consistent; do not expose it publicly."""
    state: ApiState = request.app.state.qtc
    if state.metrics is None:
        return JSONResponse({"detail": "metrics are off (metrics_enabled=false)"}, status_code=404)
    return Response(generate_latest(state.metrics), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def no_checks() -> tuple[bool, dict[str, Any]]:
    """Readiness of an API built without a run around it (tests): nothing to check."""
    return True, {"ready": True, "failed": [], "checks": {}}
