"""The swap at a minute boundary: each team runs the version its pointer names, from the next
minute on; and a version that fails minute after minute is flagged (or rolled back).

The run reads every team's `active.json` before each minute (a stat, and a read only when the
file changed), so an activation by the API, by the CLI in another process or by the automatic
rollback is picked up the same way, between two minutes, never during one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from qtc.store.strategy_versions import ACTIVE, VersionError, VersionStore
from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.teams import TeamSpec
from qtc.uploads.service import spec_for

log = logging.getLogger("qtc.uploads")

ErrorSink = Callable[[str, str, str, Any], None]  # team_id, phase, message, signal


class Replaceable(Protocol):
    """The strategy pool's side of a swap (`StrategyPool.replace`)."""

    async def replace(self, spec: TeamSpec) -> StrategyError | None: ...


@dataclass(slots=True)
class _Running:
    spec: TeamSpec  # the team's id and capital (from --teams or the registry)
    version: int
    params: dict[str, Any] | None = None  # the running version's (None: the spec's)
    stamp: tuple[int, int, int] | None = (
        None  # (inode, mtime_ns, size) of active.json when last read
    )
    bad_minutes: int = 0
    failing_since: datetime | None = None
    last_error: str | None = None


class VersionSwitch:
    """Which version each team runs, swapped at minute boundaries; failing versions flagged."""

    def __init__(
        self,
        store: VersionStore,
        pool: Replaceable,
        running: Mapping[str, tuple[TeamSpec, int]],
        *,
        record_error: ErrorSink,
        failing_minutes: int = 3,
        auto_rollback: bool = False,
    ) -> None:
        """`running`: {team_id: (spec, version it runs now)}."""
        self._store = store
        self._pool = pool
        self._teams = {tid: _Running(spec, n) for tid, (spec, n) in running.items()}
        for team_id, team in self._teams.items():
            team.stamp = self._stamp(team_id)
        self._record_error = record_error
        self._failing_minutes = failing_minutes
        self._auto_rollback = auto_rollback

    def version_of(self, team_id: str) -> int | None:
        """The version the team's worker runs now."""
        team = self._teams.get(team_id)
        return team.version if team is not None else None

    def params_of(self, team_id: str) -> dict[str, Any] | None:
        """The constructor params of the version the team runs (None: as it started)."""
        team = self._teams.get(team_id)
        return team.params if team is not None else None

    def failing(self, team_id: str) -> dict[str, Any] | None:
        """Why the team's active version is flagged as failing, or None."""
        team = self._teams.get(team_id)
        if team is None or team.bad_minutes < self._failing_minutes:
            return None
        return {
            "version": team.version,
            "consecutive_minutes": team.bad_minutes,
            "since": team.failing_since.isoformat() if team.failing_since else None,
            "last_error": team.last_error,
        }

    def _stamp(self, team_id: str) -> tuple[int, int, int] | None:
        try:
            st = (self._store.folder(team_id) / ACTIVE).stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    async def before_minute(self, minute: datetime) -> None:
        """Swap every team whose pointer moved to the version it names, before `minute`."""
        changes: list[tuple[_Running, int]] = []
        for team_id, team in self._teams.items():
            stamp = self._stamp(team_id)
            if stamp == team.stamp:
                continue
            team.stamp = stamp
            pointer = await asyncio.to_thread(self._store.pointer, team_id)
            if pointer is not None and pointer["version"] != team.version:
                changes.append((team, int(pointer["version"])))
        if changes:
            await asyncio.gather(*(self._swap(team, n, minute) for team, n in changes))

    async def _swap(self, team: _Running, n: int, minute: datetime) -> None:
        team_id = team.spec.team_id
        version = await asyncio.to_thread(self._store.get, team_id, n)
        if version is None:
            log.error("Team %s: active.json names strategy v%d, which does not exist", team_id, n)
            return
        old = team.version
        error = await self._pool.replace(spec_for(team.spec, version))
        team.version, team.params = n, dict(version.params)
        team.bad_minutes, team.failing_since, team.last_error = 0, None, None
        message = f"Team {team_id} now runs strategy v{n} from minute {_shown(minute)} (was v{old})"
        log.info("%s", message, extra={"team": team_id})
        self._record_error(team_id, "version", message, None)
        if error is not None:
            self._record_error(team_id, error.phase, f"v{n}: {error.message}", error.signal)
            self._bad_minute(team, minute, error.message, force=True)

    def after_minute(self, minute: datetime, results: Mapping[str, StrategyResult]) -> None:
        """Count each team's consecutive failing minutes (a raise, a timeout, a dead worker)."""
        for team_id, result in results.items():
            team = self._teams.get(team_id)
            if team is None:
                continue
            if result.error is None:
                if team.bad_minutes >= self._failing_minutes:
                    log.info("Team %s strategy v%d works again", team_id, team.version)
                team.bad_minutes, team.failing_since, team.last_error = 0, None, None
                continue
            self._bad_minute(team, minute, result.error.message)

    def _bad_minute(
        self, team: _Running, minute: datetime, error: str, force: bool = False
    ) -> None:
        team.bad_minutes = max(team.bad_minutes + 1, self._failing_minutes if force else 0)
        team.last_error = error[:300]
        if team.failing_since is None:
            team.failing_since = minute
        if team.bad_minutes != self._failing_minutes:
            return  # flagged once, when it crosses the line
        team_id = team.spec.team_id
        log.warning(
            "Team %s strategy v%d is failing: %d consecutive minutes (%s)",
            team_id,
            team.version,
            team.bad_minutes,
            team.last_error,
            extra={"team": team_id},
        )
        if not self._auto_rollback:
            return
        try:
            back = self._store.rollback(team_id, by="auto-rollback", now=datetime.now(UTC))
        except VersionError as e:
            log.warning("Team %s: no automatic rollback (%s)", team_id, e)
            return
        message = f"Team {team_id} strategy v{team.version} is failing: rolled back to v{back.n}"
        log.warning("%s (from the next minute)", message, extra={"team": team_id})
        self._record_error(team_id, "version", message, None)


def _shown(minute: datetime) -> str:
    return minute.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
