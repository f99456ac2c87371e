"""Which pool runs the strategies: the local forked workers, or hosts on a Ray cluster.

`--workers local` (the default) is the sandboxed pool of this machine; `--workers ray` starts a
local Ray, `ray:auto` and `ray:HOST:PORT` join the cluster this machine is a node of, and
`ray://HOST:PORT` connects through Ray Client. Both pools answer the same calls.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from qtc.strategies.ray_pool import RayStrategyPool
from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.sandbox import CallObserver, StrategyPool
from qtc.strategies.teams import TeamSpec

WORKERS_PATTERN = re.compile(r"^(local|ray|ray:auto|ray:[^/\s:]+:\d+|ray://[^/\s:]+:\d+)$")
RAY_MISSING = "--workers ray needs Ray, which is not installed: pip install 'qtc[ray]'"


class Pool(Protocol):
    """What the run asks of a strategy pool, wherever its workers are."""

    @property
    def isolation(self) -> dict[str, Any] | None: ...

    @property
    def failed(self) -> dict[str, StrategyError]: ...

    def restarts(self, team_id: str) -> int: ...

    async def start(self) -> dict[str, StrategyError | None]: ...

    async def run_minute(
        self, views: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, StrategyResult]: ...

    async def replace(self, spec: TeamSpec) -> StrategyError | None: ...

    async def trial(
        self, spec: TeamSpec, view: Mapping[str, Any], *, timeout: float
    ) -> StrategyError | None: ...

    async def close(self) -> None: ...


def check_workers(workers: str) -> None:
    """A clear error (ValueError) for a malformed `--workers`, or Ray asked for but absent."""
    if not WORKERS_PATTERN.match(workers):
        raise ValueError(
            f"--workers {workers!r}: expected local, ray, ray:auto, ray:HOST:PORT or "
            "ray://HOST:PORT"
        )
    if workers == "local":
        return
    try:
        importlib.import_module("ray")
    except ImportError as e:
        raise ValueError(RAY_MISSING) from e


def ray_address(workers: str) -> str | None:
    """The address `ray.init` takes for `--workers`: None starts a local Ray."""
    if workers == "ray":
        return None
    if workers.startswith("ray://"):
        return workers
    return workers.removeprefix("ray:")


def make_pool(
    workers: str,
    specs: Sequence[TeamSpec],
    *,
    timeout: float,
    memory_mb: int,
    scratch_root: Path,
    hidden: Sequence[Path],
    scratch_mb: int,
    python_checks: bool,
    require_isolation: bool,
    observer: CallObserver | None,
) -> Pool:
    """The pool `--workers` names, not started yet."""
    options: dict[str, Any] = {
        "timeout": timeout,
        "memory_mb": memory_mb,
        "scratch_root": scratch_root,
        "hidden": hidden,
        "scratch_mb": scratch_mb,
        "python_checks": python_checks,
        "require_isolation": require_isolation,
        "observer": observer,
    }
    if workers == "local":
        return StrategyPool(specs, **options)
    check_workers(workers)
    return RayStrategyPool(specs, address=ray_address(workers), **options)
