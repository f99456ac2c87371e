"""`qtc run --workers ray...` as a user types it: a local Ray of its own, or a running cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tests.ray.runs import EXAMPLES, MIDDAY, lines
from tests.support.ray_cluster import RAY_ENV, RayCluster

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _qtc_run(tmp_path: Path, workers: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "qtc",
        "run",
        "--data-dir",
        str(data),
        "--log-file",
        str(tmp_path / "run.log"),
        "--no-api",
        "--start",
        MIDDAY.isoformat(),
        "--duration",
        "5",
        "--speed",
        "6000000",
        "--workers",
        workers,
    ]
    for team_id, folder in (("hold", "buy_and_hold"), ("revert", "mean_reversion")):
        command += ["--teams", f"{team_id};{EXAMPLES / folder};strategy:Strategy;100000"]
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("QTC_", "ALPACA_", "RAY_"))}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**keep, **RAY_ENV, **env, "PYTHONUNBUFFERED": "1"},
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _assert_ran_on_ray(
    tmp_path: Path, result: subprocess.CompletedProcess[str], nodes: int
) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    log = (tmp_path / "run.log").read_text()
    assert f"Strategies on Ray: 2 teams on {min(nodes, 2)} hosts over {nodes} nodes" in log
    assert "Strategy isolation in force: namespaces" in log
    assert "QTC run finished: 5 minutes" in log
    assert lines(tmp_path / "data" / "team" / "hold" / "trades.jsonl")  # it bought


def test_workers_ray_starts_a_local_ray_and_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "home"  # a local Ray writes its token under ~/.ray: not the user's
    home.mkdir()
    # short: Ray's Unix sockets live under it, and a socket path has at most 107 bytes
    ray_tmp = Path(tempfile.mkdtemp(prefix="qtc-ray-"))
    try:
        result = _qtc_run(tmp_path, "ray", {"HOME": str(home), "RAY_TMPDIR": str(ray_tmp)})
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    _assert_ran_on_ray(tmp_path, result, 1)


@pytest.mark.parametrize("through", ["a node", "Ray Client"])
def test_workers_ray_address_runs_on_the_cluster(
    tmp_path: Path, ray_cluster: RayCluster, through: str
) -> None:
    """`ray:HOST:PORT` from a machine of the cluster; `ray://HOST:PORT` from anywhere."""
    workers = f"ray:{ray_cluster.address}" if through == "a node" else ray_cluster.client_address
    result = _qtc_run(tmp_path, workers, ray_cluster.auth_env)
    _assert_ran_on_ray(tmp_path, result, len(ray_cluster.alive_nodes()))
