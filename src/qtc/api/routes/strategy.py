"""Team strategy routes: upload a new version, list versions, activate one, roll back."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from qtc.api.auth import CurrentTeam
from qtc.api.ratelimit import retry_after_header
from qtc.api.state import ApiState
from qtc.store.strategy_versions import VersionError
from qtc.strategies.upload_checks import MAX_UPLOAD_BYTES, UploadRefused
from qtc.uploads.service import StrategyDesk

router = APIRouter(prefix="/api/v1/team/{team_id}/strategy", tags=["strategy"])


class ActivateIn(BaseModel):
    """Which version to run from the next minute."""

    version: int = Field(ge=1, description="A version number from GET .../strategy.")


def _desk(request: Request, team_id: str) -> StrategyDesk:
    state: ApiState = request.app.state.qtc
    if state.desk is None:
        raise HTTPException(404, "strategy uploads are not served here")
    if team_id not in state.tracker.team_ids():
        raise HTTPException(404, "team not found in this competition")
    return state.desk


def _refused(reasons: list[str]) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={"detail": "strategy refused: " + "; ".join(reasons), "reasons": reasons},
    )


@router.post("", status_code=201, summary="Upload a new strategy version")
async def upload(
    request: Request,
    team_id: CurrentTeam,
    file: Annotated[list[UploadFile], File(description="strategy.py, several .py, or one zip")],
    entry: Annotated[
        str | None, Form(description="MODULE:CLASS (default strategy:Strategy)")
    ] = None,
) -> JSONResponse:
    """Checked (sizes, paths, file kinds, static check, a trial load in a sandboxed worker),
    stored as the next version and made active: it runs from the next minute. 422 with the
    reasons when refused, and nothing changes."""
    desk = _desk(request, team_id)
    state: ApiState = request.app.state.qtc
    wait = state.upload_limiter.hit(team_id)
    if wait is not None:
        raise HTTPException(
            429, "too many uploads", headers={"Retry-After": retry_after_header(wait)}
        )
    parts: list[tuple[str, bytes]] = []
    total = 0
    for part in file:
        data = await part.read(MAX_UPLOAD_BYTES + 1 - total)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            return _refused([f"the upload is more than {MAX_UPLOAD_BYTES} bytes"])
        parts.append((part.filename or "strategy.py", data))
    try:
        version = await desk.upload(team_id, parts, entry=entry, uploaded_by=f"api:{team_id}")
    except UploadRefused as e:
        return _refused(e.reasons)
    return JSONResponse(
        status_code=201,
        content={
            "team_id": team_id,
            "version": version.describe(),
            "active": version.n,
            "message": f"stored as v{version.n}; it runs from the next minute",
        },
    )


@router.get("", summary="The team's strategy versions and the active one")
async def versions(request: Request, team_id: CurrentTeam) -> JSONResponse:
    """Every version (hash, time, size, entry point, author), which is active, and whether
    the active one is failing (raised or timed out on consecutive minutes)."""
    desk = _desk(request, team_id)
    return JSONResponse(await asyncio.to_thread(desk.describe, team_id))


@router.post("/activate", summary="Run another version from the next minute")
async def activate(request: Request, team_id: CurrentTeam, body: ActivateIn) -> JSONResponse:
    """Point the team at `version`; the swap happens at the next minute boundary."""
    desk = _desk(request, team_id)
    try:
        version = await asyncio.to_thread(desk.activate, team_id, body.version, by=f"api:{team_id}")
    except VersionError as e:
        raise HTTPException(404, str(e)) from e
    return _moved(team_id, version.n)


@router.post("/rollback", summary="Return to the version active before this one")
async def rollback(request: Request, team_id: CurrentTeam) -> JSONResponse:
    """The previous active version runs again from the next minute (409 when there is none)."""
    desk = _desk(request, team_id)
    try:
        version = await asyncio.to_thread(desk.rollback, team_id, by=f"api:{team_id}")
    except VersionError as e:
        raise HTTPException(409, str(e)) from e
    return _moved(team_id, version.n)


def _moved(team_id: str, n: int) -> JSONResponse:
    return JSONResponse(
        {"team_id": team_id, "active": n, "message": f"v{n} runs from the next minute"}
    )
