"""The kernel boundary alone holds: every known escape, with the Python checks off, then on.

Each attack (tests/strategies/hostile/escape) either meets a refusal, which becomes the team's
error for the minute, or says ESCAPED. The host, the other teams' files and this process are
checked from outside as well: nothing written, nothing read, no signal received.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.strategies.test_strategies_sandbox import minute
from tests.support.signals import counting

from qtc.strategies.teams import make_spec

ATTACKS = [
    "read_keys", "read_other_ledger", "stat_other", "list_data", "write_other",
    "forge_own_ledger", "write_tmp", "pandas_passwd", "host_environ", "proc_self_mem",
    "proc_fd", "fill_disk", "tcp", "unix_socket", "fork", "exec", "kill_host",
    "kill_everyone", "kill_group", "raise_limits", "ctypes_socket", "ctypes_ptrace",
    "numpy_ctypeslib", "unshare", "mount", "subclasses", "gc_objects", "frame_walk",
    "generator_frame", "importlib_attr", "random_os", "errno_probe",
]  # fmt: skip

# What the kernel answers, as the team sees it in its error line.
REFUSALS = (
    "PermissionError",
    "FileNotFoundError",
    "Operation not permitted",
    "Permission denied",
    "Read-only file system",  # the data directory's empty stand-in, where a version is bound
    "No space left on device",
    "not allowed to raise maximum limit",
    "could not start a shell",
    "refused",
    "not visible",
)


@pytest.fixture
def sigwinch() -> Iterator[list[int]]:
    """SIGWINCH received by this process: what the kill attacks send (harmless if received)."""
    with counting(signal.SIGWINCH) as received:
        yield received


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory as a run leaves it: the key file and two teams' ledgers."""
    root = tmp_path / "data"
    for team_id in ("victim", "attacker"):
        (root / "team" / team_id).mkdir(parents=True)
        (root / "team" / team_id / "trades.jsonl").write_text('{"side":"buy"}\n')
    (root / "api_keys.json").write_text('{"victim": "hash"}')
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "scratch" not in p.parts
    }


async def _attack_all(
    make_pool: Any, team: Any, view: Any, data: Path, tmp_path: Path, *, checks: bool
) -> tuple[Any, dict[str, Any]]:
    marker = tmp_path / "escaped-marker"
    params = dict(
        data=str(data), other="victim", me="attacker", host_pid=os.getpid(), marker=str(marker)
    )
    specs = [team(a, "hostile/escape", attack=a, **params) for a in ATTACKS]
    specs.append(team("steady", "good/steady"))
    pool = await make_pool(
        specs,
        timeout=20.0,
        preload=("numpy", "pandas"),
        scratch_root=data / "scratch",
        hidden=[data],
        python_checks=checks,
        scratch_mb=16,
    )
    loaded = await pool.start()
    assert loaded["steady"] is None
    results = await minute(pool, view, *ATTACKS, "steady")
    assert not marker.exists()
    return pool, {"loaded": loaded, "results": results}


async def test_the_kernel_alone_refuses_every_escape(
    make_pool, team, view, data: Path, tmp_path: Path, sigwinch: list[int]
) -> None:
    before = _snapshot(data)
    pool, outcome = await _attack_all(make_pool, team, view, data, tmp_path, checks=False)

    assert pool.isolation["missing"] == {}, "a kernel layer is missing on this machine"
    assert set(pool.isolation["in_force"]) == {
        "namespaces", "scratch_quota", "rlimits", "no_new_privs", "landlock", "seccomp",
    }  # fmt: skip
    assert all(error is None for error in outcome["loaded"].values())  # nothing refused early
    results = outcome["results"]
    for attack in ATTACKS:
        error = results[attack].error
        assert error is not None, f"{attack}: no error at all"
        assert "ESCAPED" not in error.message, f"{attack}: {error.message}"
        assert any(r in error.message for r in REFUSALS), f"{attack}: {error.message}"
        assert results[attack].signals == []
    assert results["steady"].error is None and results["steady"].signals
    assert "No space left on device" in results["fill_disk"].error.message
    assert _snapshot(data) == before  # no team's file read into, written or added
    assert sigwinch == []
    # the next minute still runs for everyone (the attackers' workers were not broken)
    again = await minute(pool, view, "steady", "fork", "read_keys")
    assert again["steady"].signals and "ESCAPED" not in again["fork"].error.message


async def test_with_the_python_checks_on_every_escape_is_refused_too(
    make_pool, team, view, data: Path, tmp_path: Path, sigwinch: list[int]
) -> None:
    before = _snapshot(data)
    _pool, outcome = await _attack_all(make_pool, team, view, data, tmp_path, checks=True)

    for attack in ATTACKS:
        refused_at_load = outcome["loaded"][attack]
        assert refused_at_load is not None and "strategy refused" in refused_at_load.message
        assert "import of 'os' is refused" in refused_at_load.message
    assert outcome["results"]["steady"].signals
    assert _snapshot(data) == before
    assert sigwinch == []


async def test_a_version_stored_under_the_data_directory_sees_only_its_own_folder(
    make_pool, folder, view, data: Path, tmp_path: Path
) -> None:
    """Uploaded versions live in data/team/{id}/strategies/v{n}: the data directory stays
    hidden, the version's own folder alone is bound back, read-only."""
    stored = data / "team" / "attacker" / "strategies" / "v1"
    stored.mkdir(parents=True)
    for source in folder("hostile/escape").iterdir():
        if source.is_file():
            (stored / source.name).write_bytes(source.read_bytes())
    before = _snapshot(data)
    marker = tmp_path / "escaped-marker"
    params = dict(
        data=str(data), other="victim", me="attacker", host_pid=os.getpid(), marker=str(marker)
    )
    data_attacks = ["read_keys", "read_other_ledger", "stat_other", "list_data", "write_other"]
    specs = [
        make_spec(a, stored, "strategy:Strategy", 100000, {"attack": a, **params})
        for a in [*data_attacks, "forge_own_ledger"]
    ]
    pool = await make_pool(
        specs, timeout=20.0, scratch_root=data / "scratch", hidden=[data], python_checks=False
    )
    assert all(error is None for error in (await pool.start()).values())
    assert pool.isolation["missing"] == {}
    results = await minute(pool, view, *data_attacks, "forge_own_ledger")
    for attack, result in results.items():
        assert result.error is not None, f"{attack}: no error at all"
        assert "ESCAPED" not in result.error.message, f"{attack}: {result.error.message}"
        assert any(r in result.error.message for r in REFUSALS), result.error.message
    assert not marker.exists()
    assert _snapshot(data) == before
