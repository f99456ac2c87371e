"""A run's strategy versions: each team starts on its active version (version 1 made from its
folder when it has none), the switch swaps versions between minutes, the desk takes uploads."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qtc.orchestrator import Orchestrator
from qtc.settings import Settings
from qtc.store.strategy_versions import VersionError, VersionStore
from qtc.strategies.pools import Pool
from qtc.strategies.teams import TeamSpec
from qtc.tracking.tracker import OrderTracker
from qtc.uploads.service import StrategyDesk, ensure_first_version
from qtc.uploads.swap import VersionSwitch

log = logging.getLogger("qtc.run")


@dataclass
class RunVersions:
    """The specs the pool starts with, and what each team's version is."""

    settings: Settings
    store: VersionStore
    given: dict[str, TeamSpec]  # as --teams or the registry gave them (id, capital)
    specs: list[TeamSpec]  # as the pool runs them (the active version's folder)
    running: dict[str, int] = field(default_factory=dict)  # team_id -> version
    _switch: VersionSwitch | None = None

    def switch(self, pool: Pool, tracker: OrderTracker) -> VersionSwitch:
        """The minute-boundary swap over `pool`; version lines go to the team's errors.jsonl."""
        self._switch = VersionSwitch(
            self.store,
            pool,
            {tid: (self.given[tid], n) for tid, n in self.running.items()},
            record_error=tracker.record_error,
            failing_minutes=self.settings.strategy_failing_minutes,
            auto_rollback=self.settings.auto_rollback,
        )
        return self._switch

    def desk(self, pool: Pool, orchestrator: Orchestrator) -> StrategyDesk:
        """Uploads for the API: trial-loaded in `pool`, on the last bars the teams saw."""
        return StrategyDesk(
            self.store,
            pool,
            scratch_root=self.settings.data_dir / "scratch",
            trial_timeout=self.settings.upload_trial_timeout,
            market_view=lambda: orchestrator.last_market,
            failing=self._switch,
            python_checks=self.settings.strategy_python_checks,
        )


def build_versions(settings: Settings, specs: list[TeamSpec]) -> RunVersions:
    """Each team's active version (made from its folder as version 1 when it has none); a
    team whose folder cannot be read keeps its spec and fails to load, as it always has."""
    store = VersionStore(settings.data_dir)
    versions = RunVersions(settings, store, {s.team_id: s for s in specs}, [])
    now = datetime.now(UTC)
    for spec in specs:
        try:
            active, n = ensure_first_version(store, spec, now)
        except (OSError, ValueError, VersionError) as e:
            log.warning("Team %s: no strategy version (%s)", spec.team_id, e)
            versions.specs.append(spec)
            continue
        versions.running[spec.team_id] = n
        versions.specs.append(active)
        log.info("Team %s runs strategy v%d", spec.team_id, n, extra={"team": spec.team_id})
    return versions
