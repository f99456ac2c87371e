"""The Ray actor that runs the sandboxed strategy pool for a share of the teams on one node.

Inside the actor the teams run exactly as on one box: the actor starts its own fork server and
confined workers (each worker applies the kernel boundary before team code is imported), each
call has the same time limit, and a worker that overran or died is restarted at its next call.
What the pool logs is kept and handed back with each answer, so the head's log has every line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec

MAX_KEPT_LINES = 1000  # per answer: a storm of restarts must not grow the reply without bound

# a team's view as sent to its host: (team, index of its bars, index of its prices) in `shared`
TeamPayload = tuple[Any, int, int]
Call = tuple[str, float, bool]  # team, real seconds, timed out
Line = tuple[int, str, str]  # level, logger, message


@dataclass(slots=True)
class _Calls:
    """Remembers every strategy call until the host's next answer carries them to the head."""

    calls: list[Call] = field(default_factory=list)

    def strategy_call(self, team_id: str, seconds: float, timed_out: bool) -> None:
        self.calls.append((team_id, seconds, timed_out))


class _Lines(logging.Handler):
    """Keeps the pool's log lines for the head, which logs them as its own."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < MAX_KEPT_LINES:
            self.lines.append((record.levelno, record.name, record.getMessage()))


@dataclass(frozen=True, slots=True)
class HostStarted:
    """A host's start: each team's load error (None: loaded), the isolation, where it runs."""

    errors: dict[str, StrategyError | None]
    isolation: dict[str, Any] | None
    node_id: str
    pid: int
    lines: list[Line]


@dataclass(frozen=True, slots=True)
class HostReply:
    """A host's minute: each team's result, the calls made, worker restarts so far, log lines,
    and whether a worker must be loaded again at the next call (its worker was killed)."""

    results: dict[str, StrategyResult]
    calls: list[Call]
    restarts: dict[str, int]
    lines: list[Line]
    reloading: bool


class PoolHost:
    """One node's share of the teams, in a StrategyPool of this process (the Ray actor)."""

    def __init__(self, specs: Sequence[TeamSpec], options: dict[str, Any]) -> None:
        self._calls = _Calls()
        self._lines = _Lines()
        pool_log = logging.getLogger("qtc.strategies")
        pool_log.setLevel(logging.INFO)
        pool_log.addHandler(self._lines)
        self._pool = StrategyPool(specs, observer=self._calls, **options)

    async def start(self) -> HostStarted:
        """Static-check and load this host's teams."""
        import ray

        errors = await self._pool.start()
        node_id = ray.get_runtime_context().get_node_id()
        return HostStarted(errors, self._pool.isolation, node_id, os.getpid(), self._take_lines())

    async def run_minute(self, shared: list[Any], teams: dict[str, TeamPayload]) -> HostReply:
        """Call every team of `teams` once; `shared` holds the minute's bars and prices."""
        views = {
            team_id: {"team": team, "bars": shared[bars], "current_prices": shared[prices]}
            for team_id, (team, bars, prices) in teams.items()
        }
        results = await self._pool.run_minute(views)
        calls, self._calls.calls = self._calls.calls, []
        restarts = {t: n for t in teams if (n := self._pool.restarts(t))}
        alive, failed = self._pool.worker_pids(), self._pool.failed
        reloading = any(t not in alive and t not in failed for t in teams)
        return HostReply(results, calls, restarts, self._take_lines(), reloading)

    async def replace(self, spec: TeamSpec) -> tuple[StrategyError | None, list[Line]]:
        """Swap one of this host's teams to another strategy version (between two minutes)."""
        error = await self._pool.replace(spec)
        return error, self._take_lines()

    async def trial(
        self, spec: TeamSpec, view: dict[str, Any], timeout: float
    ) -> tuple[StrategyError | None, list[Line]]:
        """Load `spec` in a fresh confined worker of this host and call it once."""
        error = await self._pool.trial(spec, view, timeout=timeout)
        return error, self._take_lines()

    async def close(self) -> None:
        """Stop every worker and the fork server."""
        await self._pool.close()

    def _take_lines(self) -> list[Line]:
        lines, self._lines.lines = self._lines.lines, []
        return lines
