"""Hostile teams on Ray meet the same walls as on one box, and leave the same error lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.ray.runs import EXAMPLES, lines, run
from tests.support.ray_cluster import RayCluster

from qtc.strategies.ray_pool import RayStrategyPool
from qtc.strategies.teams import TeamSpec, make_spec

pytestmark = [pytest.mark.slow, pytest.mark.ray]

HOSTILE = Path(__file__).resolve().parents[1] / "strategies" / "hostile"


def _teams(outside: Path) -> list[TeamSpec]:
    hostile: list[tuple[str, str, dict[str, Any]]] = [
        ("raises", "raises", {}),
        ("exits", "exits", {}),
        ("sleeps", "sleeps", {}),  # overruns its time limit: killed, restarted next minute
        ("init_raises", "init_raises", {}),
        ("imports_os", "imports_os", {}),  # refused by the static check at load
        ("bad_numbers", "bad_numbers", {}),
        ("garbage", "garbage", {"kind": "deep"}),
        ("writes_outside", "writes_outside", {"target": str(outside)}),
        ("network", "network", {"url": "http://127.0.0.1:9/prices.csv"}),
    ]
    specs = [
        make_spec(team_id, HOSTILE / folder, "strategy:Strategy", 100_000, params)
        for team_id, folder, params in hostile
    ]
    return [*specs, make_spec("steady", EXAMPLES / "buy_and_hold", "strategy:Strategy", 100_000)]


def _error_lines(data: Path, team_id: str) -> list[dict[str, Any]]:
    return lines(data / "team" / team_id / "errors.jsonl")


async def test_hostile_teams_leave_the_same_error_lines_as_on_one_box(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    outside = tmp_path / "written-by-a-team.csv"
    specs = _teams(outside)
    local = await run(tmp_path / "local", specs, "local", 4, strategy_timeout=1.0)
    on_ray = await run(
        tmp_path / "ray", specs, f"ray:{ray_cluster.address}", 4, strategy_timeout=1.0
    )

    assert isinstance(on_ray.strategies, RayStrategyPool)
    layers = on_ray.strategies.isolation
    assert layers is not None and layers == local.strategies.isolation  # same kernel walls
    assert not outside.exists()
    for spec in specs:
        expected = _error_lines(tmp_path / "local", spec.team_id)
        assert _error_lines(tmp_path / "ray", spec.team_id) == expected, spec.team_id
        assert bool(expected) == (spec.team_id != "steady"), spec.team_id
    timed_out = _error_lines(tmp_path / "ray", "sleeps")
    assert len(timed_out) == 4 and all("timed out after 1 s" in e["message"] for e in timed_out)
    assert on_ray.strategies.restarts("sleeps") == local.strategies.restarts("sleeps") >= 3
