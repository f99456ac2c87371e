"""`--workers`: a malformed value, or Ray asked for where it is not installed, is one clear
error line and exit code 2, with nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MIDDAY, clean_env, run_args

# `qtc` as installed, in a Python where `import ray` fails as it does without the extra
WITHOUT_RAY = "import sys; sys.modules['ray'] = None; from qtc.cli import main; sys.exit(main())"


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("workers", ["ray", "ray:auto", "ray://127.0.0.1:10001"])
def test_ray_workers_without_ray_name_the_extra_to_install(tmp_path: Path, workers: str) -> None:
    data, log = tmp_path / "data", tmp_path / "run.log"
    command = run_args(data, log, "--no-api", "--start", MIDDAY.isoformat(), "--workers", workers)
    result = _run([sys.executable, "-c", WITHOUT_RAY, *command[3:]])

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: --workers ray needs Ray, which is not installed: pip install 'qtc[ray]'"
    ], output
    assert not data.exists()


@pytest.mark.parametrize("workers", ["threads", "ray:", "ray://nowhere", "ray:host:port"])
def test_a_malformed_workers_value_is_refused(tmp_path: Path, workers: str) -> None:
    data, log = tmp_path / "data", tmp_path / "run.log"
    result = _run(run_args(data, log, "--no-api", "--workers", workers))

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "expected local, ray, ray:auto" in errors[0], output
    assert not data.exists()
