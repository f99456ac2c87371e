"""A real `qtc run` with a team for every known escape: refused, logged, the others trade on time.

With the Python checks switched off (`QTC_STRATEGY_PYTHON_CHECKS=false`) only the kernel
boundary stands between the attackers and the data directory; then the same with them on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.run.conftest import BUY_AND_HOLD, MIDDAY, clean_env, qtc_run, run_args, snapshots
from tests.strategies.test_strategies_kernel import ATTACKS, REFUSALS
from tests.support.signals import counting

ESCAPE = Path(__file__).resolve().parents[1] / "strategies" / "hostile" / "escape"
MINUTES = 3
pytestmark = pytest.mark.slow


@pytest.fixture
def sigwinch() -> Iterator[list[int]]:
    """SIGWINCH received by this process: what the kill attacks send (harmless if received)."""
    with counting(signal.SIGWINCH) as received:
        yield received


def _registry(tmp_path: Path, data: Path) -> Path:
    marker = tmp_path / "escaped-marker"
    teams = [
        {"id": "steady", "path": str(BUY_AND_HOLD), "capital": 100000},
        {"id": "victim", "path": str(BUY_AND_HOLD), "capital": 100000},
    ]
    for attack in ATTACKS:
        params = {
            "attack": attack,
            "data": str(data),
            "other": "victim",
            "me": attack[:21],
            "host_pid": os.getpid(),
            "marker": str(marker),
        }
        teams.append({"id": params["me"], "path": str(ESCAPE), "capital": 1000, "params": params})
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump({"teams": teams}))
    return path


def _errors(data: Path, team_id: str) -> list[dict[str, str]]:
    path = data / "team" / team_id / "errors.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run(tmp_path: Path, checks: bool) -> tuple[Path, str]:
    data, log = tmp_path / "data", tmp_path / "qtc.log"
    registry = _registry(tmp_path, data)
    env = clean_env(QTC_STRATEGY_PYTHON_CHECKS="true" if checks else "false")
    result = qtc_run(
        data,
        log,
        "--registry", str(registry), "--start", MIDDAY.isoformat(),
        "--duration", str(MINUTES), "--strategy-timeout", "20",
        env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "escaped-marker").exists()
    return data, log.read_text()


def _good_teams_traded(data: Path) -> None:
    for team_id in ("steady", "victim"):
        assert len(snapshots(data, team_id)) >= MINUTES, f"{team_id} missed minutes"
        fills = (data / "team" / team_id / "trades.jsonl").read_text().splitlines()
        assert fills and all("forged" not in line for line in fills)
        assert _errors(data, team_id) == []


def test_kernel_alone_every_escape_is_refused_and_logged(
    tmp_path: Path, sigwinch: list[int]
) -> None:
    data, log = _run(tmp_path, checks=False)

    assert "Python-level strategy checks are OFF" in log
    assert "Strategy isolation in force: namespaces" in log
    assert "STRATEGY ISOLATION MISSING" not in log
    for attack in ATTACKS:
        errors = _errors(data, attack[:21])
        assert len(errors) >= MINUTES, f"{attack}: {errors}"
        for error in errors:
            assert error["phase"] == "signal", (attack, error)
            assert "ESCAPED" not in error["message"], (attack, error)
            assert any(r in error["message"] for r in REFUSALS), (attack, error)
    _good_teams_traded(data)
    assert sigwinch == []


def test_with_python_checks_every_escape_is_refused_at_load(
    tmp_path: Path, sigwinch: list[int]
) -> None:
    data, log = _run(tmp_path, checks=True)

    assert "Python-level strategy checks are OFF" not in log
    for attack in ATTACKS:
        errors = _errors(data, attack[:21])
        assert [e["phase"] for e in errors] == ["load"], (attack, errors)
        assert "strategy refused" in errors[0]["message"]
    _good_teams_traded(data)
    assert sigwinch == []


# `qtc run` started under a seccomp filter that refuses unshare(2): a kernel that lacks user
# namespaces, as far as QTC can tell.
_NO_USERNS = """
import errno, os, sys
import pyseccomp
rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "unshare")
rules.load()
os.execv(sys.executable, [sys.executable, "-m", "qtc", *sys.argv[1:]])
"""


def _run_without_userns(tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    data, log = tmp_path / "data", tmp_path / "qtc.log"
    args = run_args(data, log, "--no-api", "--start", MIDDAY.isoformat(), "--duration", "2", *extra)
    args = [sys.executable, "-c", _NO_USERNS, *args[args.index("run") :]]
    result = subprocess.run(
        args, capture_output=True, text=True, env=clean_env(), timeout=120, stdin=subprocess.DEVNULL
    )
    return result.returncode, result.stdout + result.stderr, log.read_text() if log.exists() else ""


def test_a_missing_layer_is_said_loudly_and_the_run_goes_on(tmp_path: Path) -> None:
    code, output, log = _run_without_userns(tmp_path)
    assert code == 0, output[-2000:]
    assert "STRATEGY ISOLATION MISSING: namespaces: user namespaces not available" in log
    assert "scratch_quota" in log
    assert "landlock (ABI" in log and "seccomp (" in log  # the other layers still hold
    assert len(snapshots(tmp_path / "data", "alpha")) >= 2


def test_require_isolation_refuses_to_start_without_a_layer(tmp_path: Path) -> None:
    code, output, _log = _run_without_userns(tmp_path, "--require-isolation")
    assert code == 2, output[-2000:]
    lines = [line for line in output.splitlines() if "error:" in line]
    assert len(lines) == 1 and "isolation required but missing: namespaces" in lines[0]
    assert "Traceback" not in output
