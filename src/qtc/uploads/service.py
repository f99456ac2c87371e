"""Strategy uploads for a team: check, trial-load, store as a version; activate, roll back.

The same service answers the API (inside `qtc run`) and the CLI (`qtc strategies ...`, on a
data directory). It only moves the active pointer: the run picks the change up at its next
minute boundary (`uploads.swap`), whoever made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from qtc.store.jsonl import make_private_dir
from qtc.store.strategy_versions import StrategyVersion, VersionError, VersionStore
from qtc.strategies.results import StrategyError
from qtc.strategies.teams import TeamSpec
from qtc.strategies.upload_checks import (
    PARAMS_FILE,
    Upload,
    UploadRefused,
    read_folder,
    static_reasons,
    unpack,
)

log = logging.getLogger("qtc.uploads")
STAGING = "uploads"  # under the scratch root: staged uploads the trial worker loads
TRIAL_SYMBOLS = ("AAPL", "MSFT", "SPY")
TRIAL_BARS = 60
_NO_CAPITAL = Decimal(0)  # a trial trades nothing


class Trial(Protocol):
    """Loads a spec in a confined worker and calls it once (`StrategyPool.trial`)."""

    async def trial(
        self, spec: TeamSpec, view: Mapping[str, Any], *, timeout: float
    ) -> StrategyError | None: ...


class Failing(Protocol):
    """Which teams' active version is failing (from the run; empty outside it)."""

    def failing(self, team_id: str) -> dict[str, Any] | None: ...


def synthetic_view(team_id: str, capital: float = 100000.0) -> dict[str, Any]:
    """A plain market view for a trial when no minute has run yet (the CLI, a fresh run)."""
    closes = [100.0 + (i % 7) * 0.25 for i in range(TRIAL_BARS)]
    bars = {
        symbol: {
            "timestamp": [f"2025-01-02T15:{i:02d}:00+00:00" for i in range(TRIAL_BARS)],
            "open": closes,
            "high": [c + 0.5 for c in closes],
            "low": [c - 0.5 for c in closes],
            "close": closes,
            "volume": [1000.0] * TRIAL_BARS,
        }
        for symbol in TRIAL_SYMBOLS
    }
    return {
        "team": trial_team(team_id, capital),
        "bars": bars,
        "current_prices": {s: closes[-1] for s in TRIAL_SYMBOLS},
    }


def trial_team(
    team_id: str, capital: float, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The team as a trial shows it: its capital in cash, nothing held, nothing open."""
    return {
        "id": team_id,
        "cash": capital,
        "positions": {},
        "params": dict(params or {}),
        "open_orders": [],
    }


class StrategyDesk:
    """Uploads, versions and the active pointer of every team."""

    def __init__(
        self,
        store: VersionStore,
        trial: Trial,
        *,
        scratch_root: Path,
        trial_timeout: float,
        market_view: Callable[[], dict[str, Any] | None] = lambda: None,
        failing: Failing | None = None,
        python_checks: bool = True,
    ) -> None:
        self.store = store
        self._trial = trial
        self._scratch_root = Path(scratch_root)
        self._trial_timeout = trial_timeout
        self._market_view = market_view
        self._failing = failing
        self._python_checks = python_checks

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def upload(
        self,
        team_id: str,
        parts: Sequence[tuple[str, bytes]],
        *,
        entry: str | None,
        uploaded_by: str,
        activate: bool = True,
    ) -> StrategyVersion:
        """Check `parts`, trial-load them, store the next version and (by default) make it
        the active one. Raises UploadRefused with every reason; then nothing is written."""
        upload = unpack(parts, entry)
        if PARAMS_FILE not in upload.files:  # no params.yaml: the active version's params
            active = await asyncio.to_thread(self.store.active, team_id)
            if active is not None:
                upload = replace(upload, params=dict(active.params))
        if self._python_checks:
            reasons = await asyncio.to_thread(static_reasons, upload.files)
            if reasons:
                raise UploadRefused(reasons)
        await self._trial_load(team_id, upload)
        version = await asyncio.to_thread(
            self.store.add,
            team_id,
            upload.files,
            entry=upload.entry,
            params=upload.params,
            uploaded_by=uploaded_by,
            now=self.now(),
        )
        log.info(
            "Team %s uploaded strategy v%d (%d files, %d bytes, sha256 %s) by %s",
            team_id,
            version.n,
            len(version.files),
            version.size,
            version.sha256[:12],
            uploaded_by,
            extra={"team": team_id},
        )
        if activate:
            await asyncio.to_thread(
                self.store.activate, team_id, version.n, by=uploaded_by, now=self.now()
            )
        return version

    async def _trial_load(self, team_id: str, upload: Upload) -> None:
        root = self._scratch_root / STAGING
        make_private_dir(root)
        staged = Path(tempfile.mkdtemp(prefix=f"{team_id}-", dir=root))
        try:
            await asyncio.to_thread(_write_tree, staged, upload.files)
            spec = TeamSpec(
                team_id, staged, upload.module, upload.class_name, _NO_CAPITAL, upload.params
            )
            view = self._market_view() or synthetic_view(team_id)
            view = {**view, "team": trial_team(team_id, 100000.0, upload.params)}
            error = await self._trial.trial(spec, view, timeout=self._trial_timeout)
        finally:
            await asyncio.to_thread(shutil.rmtree, staged, True)
        if error is not None:
            when = "loading it" if error.phase == "load" else "calling generate_signal once"
            raise UploadRefused([f"trial load failed while {when}: {error.message}"])

    def activate(self, team_id: str, n: int, *, by: str) -> StrategyVersion:
        """Make version `n` the active one (raises VersionError)."""
        return self.store.activate(team_id, n, by=by, now=self.now())

    def rollback(self, team_id: str, *, by: str) -> StrategyVersion:
        """Return to the version active before the current one (raises VersionError)."""
        return self.store.rollback(team_id, by=by, now=self.now())

    def describe(self, team_id: str) -> dict[str, Any]:
        """The team's versions, the active one, and whether it is failing."""
        pointer = self.store.pointer(team_id) or {}
        failing = self._failing.failing(team_id) if self._failing is not None else None
        return {
            "team_id": team_id,
            "active": pointer.get("version"),
            "activated_at": pointer.get("activated_at"),
            "failing": failing is not None,
            "failure": failing,
            "versions": [v.describe() for v in self.store.versions(team_id)],
        }


def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        target = root / name
        make_private_dir(target.parent)
        target.write_bytes(data)


def ensure_first_version(
    store: VersionStore, spec: TeamSpec, now: datetime
) -> tuple[TeamSpec, int]:
    """The spec the run starts the team with and its version: the active one, made from the
    `--teams` or registry folder (copied in as version 1) when the team has none yet."""
    if not store.versions(spec.team_id):
        files = read_folder(spec.path)
        entry = f"{spec.module}:{spec.class_name}"
        store.add(
            spec.team_id, files, entry=entry, params=spec.params, uploaded_by="organiser", now=now
        )
        log.info("Team %s: strategy folder %s stored as v1", spec.team_id, spec.path)
    active = store.active(spec.team_id)
    if active is None:  # a crash between storing version 1 and pointing at it
        with contextlib.suppress(VersionError):
            active = store.activate(spec.team_id, 1, by="organiser", now=now)
    if active is None:
        raise VersionError(f"team {spec.team_id} has no readable strategy version")
    return spec_for(spec, active), active.n


def spec_for(spec: TeamSpec, version: StrategyVersion) -> TeamSpec:
    """The team's spec running `version` (same id and capital)."""
    return TeamSpec(
        spec.team_id, version.path, version.module, version.class_name, spec.capital, version.params
    )
