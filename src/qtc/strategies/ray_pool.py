"""Strategies on a Ray cluster: one host actor per node runs the sandboxed pool for its teams.

Only strategy execution leaves the head process; the tracker, the ledger and the API stay.
Each minute the bars and prices are put in Ray's object store once and every host reads them
from there; each host gets only its own teams' views. A host is an ordinary `StrategyPool`
inside a Ray actor (`ray_host`), so a team runs in the same confined worker, with the same
time limit and the same errors, as on one box. One actor per node, not per team: a Ray worker
process costs ~100 MB, a forked worker ~5 MB.

A host that does not answer in time, or whose node is lost, is killed; its teams get an error
for that minute and for each minute until a new host, on a live node, has loaded them again.
The other hosts' teams lose nothing. Ray is imported only here, and only when the pool starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtc.strategies.ray_host import HostReply, HostStarted, Line, PoolHost, TeamPayload
from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.sandbox import DEFAULT_PRELOAD, CallObserver
from qtc.strategies.teams import TeamSpec

log = logging.getLogger(__name__)

HOST_GRACE_S = 10.0  # beyond the longest a healthy host takes: a worker's reload plus its call
START_GRACE_S = 90.0  # a Ray worker process starting, then its fork server importing pandas
CLOSE_TIMEOUT_S = 10.0


class RayPoolError(Exception):
    """The pool could not reach Ray, or a host did not start."""


@dataclass(slots=True)
class _Group:
    """A share of the teams and the host actor that runs them (None while it restarts)."""

    index: int
    specs: list[TeamSpec]
    node_id: str
    host: Any = None
    pid: int | None = None  # the host actor's process, on its node
    starting: asyncio.Task[None] | None = None
    lost: str = ""
    restarts: int = 0
    reloading: bool = False  # a worker of this host loads again at the next call
    worker_restarts: dict[str, int] = field(default_factory=dict)
    untold: dict[str, StrategyError] = field(default_factory=dict)  # load errors after a restart


class RayStrategyPool:
    """The strategy pool over Ray: `run_minute` calls every host concurrently."""

    def __init__(
        self,
        specs: Sequence[TeamSpec],
        *,
        address: str | None,
        timeout: float = 5.0,
        memory_mb: int = 512,
        scratch_root: Path,
        load_timeout: float = 30.0,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        hidden: Sequence[Path] = (),
        scratch_mb: int = 64,
        python_checks: bool = True,
        require_isolation: bool = False,
        observer: CallObserver | None = None,
        hosts: int | None = None,
        host_grace: float = HOST_GRACE_S,
    ) -> None:
        """`address`: as `ray.init` takes it (None starts a local Ray). `hosts`: how many host
        actors (default: one per live node)."""
        ids = [s.team_id for s in specs]
        if len(set(ids)) != len(ids):
            raise ValueError("team ids must be unique")
        self._specs = list(specs)
        self._address = address
        self._hosts = hosts
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "memory_mb": memory_mb,
            "scratch_root": Path(scratch_root).resolve(),
            "load_timeout": load_timeout,
            "preload": tuple(preload),
            "hidden": tuple(Path(h).resolve() for h in hidden),
            "scratch_mb": scratch_mb,
            "python_checks": python_checks,
            "require_isolation": require_isolation,
        }
        # a healthy host answers within one call, plus a worker's reload when one is due,
        # whatever its teams do
        self._call_deadline = timeout + host_grace
        self._reload_deadline = load_timeout + timeout + host_grace
        self._start_deadline = load_timeout + START_GRACE_S
        self._observer = observer
        self._groups: list[_Group] = []
        self._group_of: dict[str, _Group] = {}
        self._failed: dict[str, StrategyError] = {}
        self._actor: Any = None
        self._ray: Any = None
        self.isolation: dict[str, Any] | None = None

    @property
    def failed(self) -> dict[str, StrategyError]:
        """Teams left out of the run because their strategy could not be loaded."""
        return dict(self._failed)

    def restarts(self, team_id: str) -> int:
        """Worker restarts of this team, plus restarts of its host."""
        group = self._group_of[team_id]
        return group.restarts + group.worker_restarts.get(team_id, 0)

    def placement(self) -> dict[str, str]:
        """Each team's Ray node id (where its host was last started)."""
        return {t: g.node_id for t, g in self._group_of.items()}

    def host_pids(self) -> dict[str, int]:
        """Each running host's process id on its node, by node id (for monitoring)."""
        return {g.node_id: g.pid for g in self._groups if g.host is not None and g.pid}

    async def start(self) -> dict[str, StrategyError | None]:
        """Connect to Ray, start one host per node and load every team there."""
        self._connect()  # on the main thread: Ray wants its signal handlers there (ours win later)
        nodes = await asyncio.to_thread(self._alive_nodes)
        if not nodes:
            raise RayPoolError("the Ray cluster has no live node")
        count = max(1, min(self._hosts or len(nodes), len(self._specs)))
        self._groups = [_Group(i, [], nodes[i % len(nodes)]) for i in range(count)]
        for n, spec in enumerate(self._specs):
            group = self._groups[n % count]
            group.specs.append(spec)
            self._group_of[spec.team_id] = group
        outcomes = await asyncio.gather(
            *(self._start_host(g) for g in self._groups), return_exceptions=True
        )
        errors: dict[str, StrategyError | None] = {}
        for group, outcome in zip(self._groups, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                await self.close()
                raise RayPoolError(
                    f"the strategy host for {len(group.specs)} teams did not start on Ray node "
                    f"{group.node_id[:12]}: {_describe(outcome)}"
                ) from outcome
            errors.update(outcome.errors)
        log.info(
            "Strategies on Ray: %d teams on %d hosts over %d nodes",
            len(self._specs),
            count,
            len(nodes),
        )
        return {spec.team_id: errors.get(spec.team_id) for spec in self._specs}

    def _connect(self) -> None:
        try:
            import ray
        except ImportError as e:
            raise RayPoolError("Ray is not installed: pip install 'qtc[ray]'") from e
        self._ray = ray
        try:
            if self._address is None:
                ray.init(include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            else:
                ray.init(address=self._address, log_to_driver=False, logging_level="WARNING")
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError...
            raise RayPoolError(f"cannot connect to Ray at {self._address or 'local'}: {e}") from e
        # the host never restarts by itself: a lost one is replaced here, on a live node
        self._actor = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(PoolHost)

    def _alive_nodes(self) -> list[str]:
        return [n["NodeID"] for n in self._ray.nodes() if n.get("Alive")]

    async def _start_host(self, group: _Group) -> HostStarted:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # hard: one host per node, even on a node that joined a moment ago (a soft affinity
        # falls back to another node until the scheduler has heard of it); a node gone by now
        # fails the start, and the restart picks a live one
        placement = NodeAffinitySchedulingStrategy(group.node_id, soft=False)
        host = self._actor.options(scheduling_strategy=placement).remote(group.specs, self._options)
        try:
            started: HostStarted = await _answer(host.start.remote(), self._start_deadline)
        except BaseException:
            self._kill(host)
            raise
        _relog(started.lines)
        group.host, group.node_id, group.pid = host, started.node_id, started.pid
        if started.isolation is not None:
            self.isolation = started.isolation
        for team_id, error in started.errors.items():
            if error is not None:
                self._failed[team_id] = error
        return started

    async def run_minute(self, views: Mapping[str, Mapping[str, Any]]) -> dict[str, StrategyResult]:
        """Call every team in `views` ({team_id: {team, bars, current_prices}}) on its host.

        The bars and prices go to the object store once; results come back in `views` order.
        """
        shared: list[Any] = []
        where: dict[int, int] = {}
        payloads: dict[int, dict[str, TeamPayload]] = {}
        for team_id, view in views.items():
            group = self._group_of.get(team_id)
            if group is None:
                continue
            parts = []
            for part in (view.get("bars", {}), view.get("current_prices", {})):
                if id(part) not in where:
                    where[id(part)] = len(shared)
                    shared.append(part)
                parts.append(where[id(part)])
            payloads.setdefault(group.index, {})[team_id] = (view.get("team", {}), *parts)
        if not payloads:
            return {}
        try:
            ref = self._ray.put(shared)
        except Exception as e:  # the head's own Ray is gone: every team misses the minute
            log.warning("Ray unreachable, no strategy runs this minute: %s", _describe(e))
            teams = {t: None for t in views if t in self._group_of}
            return _all_failed(teams, f"the Ray cluster is unreachable: {_describe(e)}")
        answers = await asyncio.gather(
            *(self._run_group(self._groups[i], ref, teams) for i, teams in payloads.items())
        )
        merged: dict[str, StrategyResult] = {}
        for answer in answers:
            merged.update(answer)
        return {team_id: merged[team_id] for team_id in views if team_id in merged}

    async def _run_group(
        self, group: _Group, ref: Any, teams: dict[str, TeamPayload]
    ) -> dict[str, StrategyResult]:
        if group.host is None:
            self._restart_soon(group)
            return _all_failed(teams, f"its strategy host is restarting after: {group.lost}")
        deadline = self._reload_deadline if group.reloading else self._call_deadline
        try:
            reply: HostReply = await _answer(group.host.run_minute.remote(ref, teams), deadline)
        except TimeoutError:
            return self._lose(group, teams, f"no answer within {deadline:g} s")
        except Exception as e:  # the node or the actor is gone: Ray's errors, whatever they are
            return self._lose(group, teams, _describe(e))
        _relog(reply.lines)
        group.reloading = reply.reloading
        group.worker_restarts.update(reply.restarts)
        if self._observer is not None:
            for team_id, seconds, timed_out in reply.calls:
                self._observer.strategy_call(team_id, seconds, timed_out)
        results = dict(reply.results)
        for team_id in list(group.untold):
            if team_id in results:
                results[team_id] = StrategyResult(error=group.untold.pop(team_id))
        return results

    def _lose(
        self, group: _Group, teams: dict[str, TeamPayload], reason: str
    ) -> dict[str, StrategyResult]:
        """Kill the host, start another on a live node, and fail this minute for its teams."""
        log.warning(
            "Strategy host on Ray node %s lost (%s): restarting it; its %d teams wait",
            group.node_id[:12],
            reason,
            len(group.specs),
        )
        self._kill(group.host)
        group.host, group.pid, group.lost, group.reloading = None, None, reason, False
        group.restarts += 1
        self._restart_soon(group)
        return _all_failed(teams, f"its strategy host was lost: {reason}")

    def _restart_soon(self, group: _Group) -> None:
        if group.starting is None or group.starting.done():
            group.starting = asyncio.create_task(self._restart(group))

    async def _restart(self, group: _Group) -> None:
        nodes = await asyncio.to_thread(self._alive_nodes)
        if group.node_id not in nodes and nodes:
            load = {
                n: sum(g.node_id == n and g.host is not None for g in self._groups) for n in nodes
            }
            group.node_id = min(nodes, key=lambda n: load[n])
        known = set(self._failed)
        try:
            started = await self._start_host(group)
        except Exception as e:
            group.lost = f"a new host did not start ({_describe(e)})"
            log.warning("Strategy host restart on Ray node %s failed: %s", group.node_id[:12], e)
            return
        group.untold = {t: e for t, e in started.errors.items() if e is not None and t not in known}
        log.info(
            "Strategy host restarted on Ray node %s: its %d teams run again",
            group.node_id[:12],
            len(group.specs),
        )

    def _kill(self, host: Any) -> None:
        if host is None or self._ray is None:
            return
        try:
            self._ray.kill(host, no_restart=True)
        except Exception as e:  # already gone with its node
            log.debug("Killing a strategy host: %s", e)

    async def replace(self, spec: TeamSpec) -> StrategyError | None:
        """Swap a team to another strategy version on its host, between two minutes; a host
        that is restarting starts with the new version."""
        group = self._group_of[spec.team_id]
        group.specs = [spec if s.team_id == spec.team_id else s for s in group.specs]
        if group.host is None:
            return None
        try:
            error, lines = await _answer(group.host.replace.remote(spec), self._reload_deadline)
        except Exception as e:  # the host is gone: its restart loads the new version
            return StrategyError("load", f"its strategy host was lost: {_describe(e)}")
        _relog(lines)
        if error is None:
            self._failed.pop(spec.team_id, None)
        else:
            self._failed[spec.team_id] = error
        return error  # type: ignore[no-any-return]

    async def trial(
        self, spec: TeamSpec, view: Mapping[str, Any], *, timeout: float
    ) -> StrategyError | None:
        """Load `spec` in a fresh confined worker on one of the hosts and call it once."""
        host = next((g.host for g in self._groups if g.host is not None), None)
        if host is None:
            return StrategyError("load", "no strategy host is running on Ray")
        deadline = 2 * timeout + self._call_deadline
        try:
            error, lines = await _answer(host.trial.remote(spec, dict(view), timeout), deadline)
        except Exception as e:
            return StrategyError("load", f"the trial on Ray failed: {_describe(e)}")
        _relog(lines)
        return error  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Stop every host (its workers and fork server with it), then leave Ray."""
        for group in self._groups:
            if group.starting is not None:
                group.starting.cancel()
        hosts = [g.host for g in self._groups if g.host is not None]
        if hosts:
            await asyncio.gather(
                *(_answer(h.close.remote(), CLOSE_TIMEOUT_S) for h in hosts),
                return_exceptions=True,
            )
        for group in self._groups:
            self._kill(group.host)
            group.host = None
        if self._ray is not None and self._ray.is_initialized():
            await asyncio.to_thread(self._ray.shutdown)


async def _answer(ref: Any, deadline: float) -> Any:
    """The value of a Ray call, or TimeoutError after `deadline` seconds."""
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), deadline)


def _all_failed(teams: Mapping[str, Any], message: str) -> dict[str, StrategyResult]:
    return {t: StrategyResult(error=StrategyError("signal", message)) for t in teams}


def _describe(error: BaseException) -> str:
    """Ray's error in one line (its messages run over many)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _relog(lines: list[Line]) -> None:
    for level, name, message in lines:
        logging.getLogger(name).log(level, "%s", message)
