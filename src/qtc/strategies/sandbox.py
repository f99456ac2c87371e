"""The strategy pool: one sandboxed worker process per team, called once a minute.

Workers are forked from the pool's own fork server (`zygote`), which preloads numpy and pandas
once, so a worker starts in milliseconds and shares those pages with every other worker. Each
call has a wall-clock time limit; a worker that overruns is killed and one that dies is
restarted (at the team's next call). A team whose strategy cannot be loaded is recorded and left
out, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qtc.domain.signals import normalize_signals
from qtc.strategies import wire
from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.static_check import check_strategy_folder
from qtc.strategies.teams import TeamSpec
from qtc.strategies.worker import WorkerConfig
from qtc.strategies.zygote import Zygote, ZygoteError

log = logging.getLogger(__name__)

DEFAULT_PRELOAD = ("numpy", "pandas")


class CallObserver(Protocol):
    """Hears of every strategy call: its team, real seconds, and whether it hit the limit."""

    def strategy_call(self, team_id: str, seconds: float, timed_out: bool) -> None: ...


class WorkerFailed(Exception):
    """The worker timed out, died or broke the protocol; it has been killed."""


@dataclass(slots=True)
class _Worker:
    """Host-side handle of one worker process."""

    pid: int
    pidfd: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    seq: int = 0


@dataclass(slots=True)
class _Team:
    spec: TeamSpec
    worker: _Worker | None = None
    disabled: StrategyError | None = None
    restarts: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class StrategyPool:
    """All teams' sandboxed strategies; `run_minute` calls every team concurrently."""

    def __init__(
        self,
        specs: Sequence[TeamSpec],
        *,
        timeout: float = 5.0,
        memory_mb: int = 512,
        scratch_root: Path,
        load_timeout: float = 30.0,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        max_concurrency: int | None = None,
        hidden: Sequence[Path] = (),
        scratch_mb: int = 64,
        python_checks: bool = True,
        require_isolation: bool = False,
        observer: CallObserver | None = None,
    ) -> None:
        ids = [s.team_id for s in specs]
        if len(set(ids)) != len(ids):
            raise ValueError("team ids must be unique")
        self._teams = {s.team_id: _Team(s) for s in specs}
        self._timeout = timeout
        self._load_timeout = load_timeout
        self._memory_mb = memory_mb
        self._scratch_root = Path(scratch_root)
        self._zygote = Zygote(preload, self._scratch_root)
        self._limit = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._hidden = tuple(str(Path(h).resolve()) for h in hidden)
        self._scratch_mb = scratch_mb
        self._python_checks = python_checks
        self._require_isolation = require_isolation
        self._observer = observer
        self.isolation: dict[str, Any] | None = None  # the layers the last worker reported

    @property
    def failed(self) -> dict[str, StrategyError]:
        """Teams left out of the run because their strategy could not be loaded."""
        return {tid: t.disabled for tid, t in self._teams.items() if t.disabled is not None}

    def restarts(self, team_id: str) -> int:
        """How many times this team's worker was restarted after a timeout or crash."""
        return self._teams[team_id].restarts

    @property
    def fork_server_pid(self) -> int | None:
        """The process id of the fork server the workers come from (None before start)."""
        return self._zygote.pid

    def worker_pids(self) -> dict[str, int]:
        """The live worker process ids (for monitoring and the benchmark)."""
        return {tid: t.worker.pid for tid, t in self._teams.items() if t.worker is not None}

    async def start(self) -> dict[str, StrategyError | None]:
        """Static-check and load every team; a team that fails is recorded, not fatal."""
        results = await asyncio.gather(*(self._start_team(t) for t in self._teams.values()))
        return dict(zip(self._teams, results, strict=True))

    async def _start_team(self, team: _Team) -> StrategyError | None:
        violations = []
        if self._python_checks:
            violations = await asyncio.to_thread(check_strategy_folder, team.spec.path)
        if violations:
            folder = team.spec.path
            shown = "; ".join(
                f"{_relative(v.file, folder)}:{v.line}: {v.message}" for v in violations[:10]
            )
            team.disabled = StrategyError("load", f"strategy refused: {shown}")
            log.warning("Team %s strategy refused: %s", team.spec.team_id, shown)
            return team.disabled
        async with team.lock:
            return await self._ensure_worker(team)

    async def _ensure_worker(self, team: _Team) -> StrategyError | None:
        if team.disabled is not None or team.worker is not None:
            return team.disabled
        try:
            team.worker = await self._spawn(team.spec)
        except (WorkerFailed, ZygoteError) as e:
            team.disabled = StrategyError("load", str(e))
            log.warning("Team %s strategy failed to load: %s", team.spec.team_id, e)
        return team.disabled

    async def _spawn(
        self, spec: TeamSpec, *, load_timeout: float | None = None, scratch: str | None = None
    ) -> _Worker:
        load_timeout = self._load_timeout if load_timeout is None else load_timeout
        config = WorkerConfig(
            team_id=spec.team_id,
            path=str(spec.path.resolve()),
            module=spec.module,
            class_name=spec.class_name,
            params=dict(spec.params),
            scratch=str((self._scratch_root / (scratch or spec.team_id)).resolve()),
            memory_mb=self._memory_mb,
            scratch_mb=self._scratch_mb,
            hidden=self._hidden,
            python_guard=self._python_checks,
            require_isolation=self._require_isolation,
        )
        spawned = await self._zygote.spawn(config)
        reader, writer = await asyncio.open_unix_connection(
            sock=spawned.sock, limit=wire.MAX_REPLY_BYTES + 4096
        )
        worker = _Worker(spawned.pid, spawned.pidfd, reader, writer)
        try:
            reply = await asyncio.wait_for(self._read_load_replies(worker), load_timeout)
        except TimeoutError:
            await self._kill(worker)
            raise WorkerFailed(f"loading took longer than {load_timeout:g} s") from None
        except WorkerFailed:
            await self._kill(worker)
            raise
        if not reply.get("ok"):
            await self._kill(worker)
            raise WorkerFailed(str(reply.get("error", "the worker did not load the strategy")))
        return worker

    async def _read_load_replies(self, worker: _Worker) -> dict[str, Any]:
        """The isolation report (sent before team code runs), then the load result."""
        reply = await self._read_reply(worker)
        if "error" in reply:
            return reply
        if not isinstance(reply.get("isolation"), dict):
            raise WorkerFailed("the worker did not report its isolation")
        self.isolation = reply["isolation"]
        return await self._read_reply(worker)

    async def _read_reply(self, worker: _Worker) -> dict[str, Any]:
        try:
            header = await worker.reader.readexactly(wire.HEADER.size)
            (size,) = wire.HEADER.unpack(header)
            if size > wire.MAX_REPLY_BYTES + 1024:
                raise WorkerFailed(f"the worker sent a {size}-byte reply")
            reply = wire.decode_reply(await worker.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise WorkerFailed("the strategy's worker died") from e
        except ValueError as e:
            raise WorkerFailed(f"the worker sent an unreadable reply: {e}") from e
        if reply.get("seq") != worker.seq:
            raise WorkerFailed("the worker sent an out-of-turn reply")
        return reply

    async def _wait_exit(self, worker: _Worker, timeout: float) -> bool:
        """Wait until the worker has exited (its pidfd turns readable); False on timeout."""
        loop = asyncio.get_running_loop()
        exited = loop.create_future()

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(True)

        loop.add_reader(worker.pidfd, on_exit)
        try:
            await asyncio.wait_for(exited, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(worker.pidfd)

    async def _kill(self, worker: _Worker) -> None:
        worker.writer.close()
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)
        await self._wait_exit(worker, 2.0)
        os.close(worker.pidfd)

    async def replace(self, spec: TeamSpec) -> StrategyError | None:
        """Swap a team's strategy between two minutes: its worker stops, the new one loads now
        (one worker start); a new version that cannot load leaves the team out, as at start."""
        team = self._teams[spec.team_id]
        async with team.lock:
            await self._close_team(team)
            team.spec = spec
            team.disabled = None
        return await self._start_team(team)

    async def trial(
        self, spec: TeamSpec, view: Mapping[str, Any], *, timeout: float
    ) -> StrategyError | None:
        """Load `spec` in a fresh confined worker and call it once on `view` ({team, bars,
        current_prices}), each within `timeout`; the worker then stops. None: it worked."""
        try:
            worker = await self._spawn(spec, load_timeout=timeout, scratch=f"{spec.team_id}.trial")
        except (WorkerFailed, ZygoteError) as e:
            return StrategyError("load", str(e))
        worker.seq += 1
        bars = pickle.dumps(wire.to_floats(view.get("bars", {})), protocol=5)
        prices = pickle.dumps(wire.to_floats(view.get("current_prices", {})), protocol=5)
        team_view = wire.to_floats(view.get("team", {}))
        request = pickle.dumps((worker.seq, team_view, bars, prices), protocol=5)
        try:
            worker.writer.write(wire.frame(request))
            reply = await asyncio.wait_for(self._send_and_read(worker), timeout)
        except TimeoutError:
            return StrategyError("signal", f"generate_signal took longer than {timeout:g} s")
        except (WorkerFailed, ConnectionError) as e:
            return StrategyError("signal", str(e) or "the strategy's worker died")
        finally:
            await self._kill(worker)
        if "error" in reply:
            return StrategyError("signal", str(reply["error"]), reply.get("signal"))
        return None

    async def run_minute(self, views: Mapping[str, Mapping[str, Any]]) -> dict[str, StrategyResult]:
        """Call every team in `views` ({team_id: {team, bars, current_prices}}) concurrently.

        Decimals in the views reach strategies as floats. Teams not in the pool are ignored;
        teams that could not be loaded get an empty result (their load error was reported once).
        """
        shared: dict[int, bytes] = {}
        payloads: dict[str, tuple[Any, bytes, bytes]] = {}
        for team_id, view in views.items():
            if team_id not in self._teams:
                continue
            bars, prices = view.get("bars", {}), view.get("current_prices", {})
            for part in (bars, prices):
                if id(part) not in shared:
                    shared[id(part)] = pickle.dumps(wire.to_floats(part), protocol=5)
            payloads[team_id] = (
                wire.to_floats(view.get("team", {})),
                shared[id(bars)],
                shared[id(prices)],
            )
        results = await asyncio.gather(
            *(self._run_team(self._teams[tid], payload) for tid, payload in payloads.items())
        )
        return dict(zip(payloads, results, strict=True))

    async def _run_team(self, team: _Team, payload: tuple[Any, bytes, bytes]) -> StrategyResult:
        async with team.lock:
            if self._limit is None:
                return await self._run_team_locked(team, payload)
            async with self._limit:
                return await self._run_team_locked(team, payload)

    async def _run_team_locked(
        self, team: _Team, payload: tuple[Any, bytes, bytes]
    ) -> StrategyResult:
        if team.disabled is not None:
            return StrategyResult()
        if team.worker is None:
            team.restarts += 1
            log.info("Restarting strategy worker of team %s", team.spec.team_id)
            error = await self._ensure_worker(team)
            if error is not None:
                return StrategyResult(error=error)
        worker = team.worker
        assert worker is not None
        worker.seq += 1
        team_view, bars, prices = payload
        request = pickle.dumps((worker.seq, team_view, bars, prices), protocol=5)
        started = time.perf_counter()
        try:
            worker.writer.write(wire.frame(request))
            reply = await asyncio.wait_for(self._send_and_read(worker), self._timeout)
        except asyncio.CancelledError:
            # Stopped mid-call (shutdown): the worker's reply would arrive out of turn later.
            self._retire_now(team)
            raise
        except TimeoutError:
            self._observe(team, started, timed_out=True)
            await self._retire(team)
            return StrategyResult(
                error=StrategyError("signal", f"timed out after {self._timeout:g} s")
            )
        except WorkerFailed as e:
            self._observe(team, started)
            await self._retire(team)
            return StrategyResult(error=StrategyError("signal", str(e)))
        except ConnectionError:
            self._observe(team, started)
            await self._retire(team)
            return StrategyResult(error=StrategyError("signal", "the strategy's worker died"))
        self._observe(team, started)
        if "error" in reply:
            return StrategyResult(
                error=StrategyError("signal", str(reply["error"]), reply.get("signal"))
            )
        return StrategyResult(signals=normalize_signals(reply.get("output")))

    def _observe(self, team: _Team, started: float, *, timed_out: bool = False) -> None:
        if self._observer is not None:
            seconds = time.perf_counter() - started
            self._observer.strategy_call(team.spec.team_id, seconds, timed_out)

    async def _send_and_read(self, worker: _Worker) -> dict[str, Any]:
        await worker.writer.drain()
        return await self._read_reply(worker)

    async def _retire(self, team: _Team) -> None:
        if team.worker is not None:
            worker, team.worker = team.worker, None
            log.warning("Killing strategy worker of team %s", team.spec.team_id)
            await self._kill(worker)

    def _retire_now(self, team: _Team) -> None:
        """Kill a worker without waiting (for use while being canceled)."""
        if team.worker is not None:
            worker, team.worker = team.worker, None
            worker.writer.close()
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)
            os.close(worker.pidfd)

    async def close(self) -> None:
        """Stop every worker: close its socket (it exits), kill what is left, stop the server."""
        await asyncio.gather(*(self._close_team(t) for t in self._teams.values()))
        await asyncio.to_thread(self._zygote.close)

    async def _close_team(self, team: _Team) -> None:
        if team.worker is None:
            return
        worker, team.worker = team.worker, None
        worker.writer.close()
        await self._wait_exit(worker, 1.0)
        await self._kill(worker)


def _relative(file: Path, folder: Path) -> str:
    """A path as the team knows it (inside its folder), not the server's layout."""
    try:
        return str(file.relative_to(folder))
    except ValueError:
        return file.name
