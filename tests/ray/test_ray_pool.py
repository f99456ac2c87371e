"""Strategies on a real local Ray cluster: the same ledgers as the local pool, and a lost node
costs its own teams a few minutes, never the other nodes' teams."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.ray.runs import EXAMPLES, lines, run
from tests.support.ray_cluster import RayCluster

from qtc.orchestrator import MinuteReport
from qtc.strategies.ray_pool import RayStrategyPool
from qtc.strategies.teams import TeamSpec
from qtc.wiring import Components

pytestmark = [pytest.mark.slow, pytest.mark.ray]

VOLATILE = ("order_id", "broker_order_id", "execution_id")  # ids made from the wall clock
EVERY_MINUTE = Path(__file__).resolve().parent / "strategies" / "every_minute"


def _specs(count: int, folders: list[Path]) -> list[TeamSpec]:
    return [
        TeamSpec(f"t{i:03d}", folders[i % len(folders)], "strategy", "Strategy", Decimal(100_000))
        for i in range(count)
    ]


def _ledger(data: Path, team_id: str) -> list[dict[str, Any]]:
    """The team's trade lines without the ids that come from the wall clock."""
    folder = data / "team" / team_id
    return [
        {k: v for k, v in line.items() if k not in VOLATILE}
        for line in lines(folder / "trades.jsonl")
    ]


def _snapshots(data: Path, team_id: str) -> list[str]:
    folder = data / "team" / team_id / "portfolio"
    return [p.read_text() for p in sorted(folder.glob("*.jsonl"))]


def _orders(data: Path, team_id: str) -> list[dict[str, Any]]:
    folder = data / "team" / team_id
    return lines(folder / "orders.jsonl") + lines(folder / "pending_orders.jsonl")


async def test_200_teams_over_30_minutes_give_the_local_pools_ledgers(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    folders = [EXAMPLES / "buy_and_hold", EXAMPLES / "mean_reversion", EXAMPLES / "stale_canceler"]
    specs = _specs(200, folders)
    local = await run(tmp_path / "local", specs, "local", 30)
    on_ray = await run(tmp_path / "ray", specs, f"ray:{ray_cluster.address}", 30)

    assert local.orchestrator.totals.minutes == on_ray.orchestrator.totals.minutes == 30
    assert isinstance(on_ray.strategies, RayStrategyPool)
    assert len(set(on_ray.strategies.placement().values())) == 2  # both nodes ran teams
    trades = 0
    for spec in specs:
        ledger = _ledger(tmp_path / "local", spec.team_id)
        assert _ledger(tmp_path / "ray", spec.team_id) == ledger, spec.team_id
        assert _snapshots(tmp_path / "ray", spec.team_id) == _snapshots(
            tmp_path / "local", spec.team_id
        )
        trades += len(ledger)
        assert not (tmp_path / "ray" / "team" / spec.team_id / "errors.jsonl").exists()
    assert trades > 200  # the strategies really traded


async def test_a_lost_node_costs_only_its_own_teams_some_minutes(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    doomed = ray_cluster.add_node()
    specs = _specs(60, [EVERY_MINUTE])
    data = tmp_path / "run"
    state: dict[str, Any] = {"killed_at": None, "lost": set(), "resumed_at": None}
    # paced at 0.3 s a minute: a slow restart still fits before the close (230 minutes on)
    kill_after, extra_minutes, max_minutes = 8, 5, 230

    def on_minute(parts: Components, report: MinuteReport) -> None:
        minutes = parts.orchestrator.totals.minutes
        pool = parts.strategies
        assert isinstance(pool, RayStrategyPool)
        if minutes == kill_after:
            placement = pool.placement()
            assert len(set(placement.values())) == 3  # head, the session's node, this test's
            state["lost"] = {t for t, n in placement.items() if n == doomed.node_id}
            ray_cluster.kill(doomed)
            state["killed_at"] = minutes
        elif (
            state["killed_at"] is not None
            and state["resumed_at"] is None
            and all(_ran_after_its_errors(data, t) for t in state["lost"])
        ):
            state["resumed_at"] = minutes
        if state["resumed_at"] is not None and minutes >= state["resumed_at"] + extra_minutes:
            parts.orchestrator.stop()

    parts = await run(
        data, specs, f"ray:{ray_cluster.address}", max_minutes, speed=200.0, on_minute=on_minute
    )
    minutes = parts.orchestrator.totals.minutes
    assert state["resumed_at"] is not None, "the lost node's teams never ran again"
    assert minutes < max_minutes
    lost = state["lost"]
    assert 0 < len(lost) < len(specs)
    for spec in specs:
        orders = _orders(data, spec.team_id)
        errors = _errors(data, spec.team_id)
        if spec.team_id not in lost:
            assert errors == [], spec.team_id
            assert len(orders) == minutes, spec.team_id  # one order every minute, none lost
            continue
        # every minute left either an order or an error line saying why not
        assert len(orders) + len(errors) == minutes, spec.team_id
        assert errors, spec.team_id
        assert all("strategy host" in e["message"] for e in errors), errors
        assert _ran_after_its_errors(data, spec.team_id)


def _errors(data: Path, team_id: str) -> list[dict[str, Any]]:
    return lines(data / "team" / team_id / "errors.jsonl")


def _ran_after_its_errors(data: Path, team_id: str) -> bool:
    """The team has error lines, and an order placed after the last of them."""
    errors, orders = _errors(data, team_id), _orders(data, team_id)
    if not errors or not orders:
        return False
    last_error = max(datetime.fromisoformat(e["timestamp"]) for e in errors)
    return any(datetime.fromisoformat(o["created_at"]) > last_error for o in orders)
