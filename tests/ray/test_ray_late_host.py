"""A host that stops answering (its process frozen) is killed and replaced; the minute goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.ray.runs import EXAMPLES
from tests.support.ray_cluster import RayCluster

from qtc.strategies.ray_pool import RayStrategyPool
from qtc.strategies.teams import TeamSpec

pytestmark = [pytest.mark.slow, pytest.mark.ray]

RESTART_TIMEOUT_S = 120.0


def _views(team_ids: list[str]) -> dict[str, dict[str, Any]]:
    bars = {
        "SPY": {
            "timestamp": ["t"],
            **{k: [500.0] for k in ("open", "high", "low", "close")},
            "volume": [1000.0],
        }
    }
    prices = {"SPY": 500.0}
    return {
        t: {
            "team": {"id": t, "cash": 1000.0, "positions": {}, "params": {}, "open_orders": []},
            "bars": bars,
            "current_prices": prices,
        }
        for t in team_ids
    }


async def test_a_frozen_host_is_replaced_and_the_others_go_on(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    specs = [
        TeamSpec(f"t{i}", EXAMPLES / "buy_and_hold", "strategy", "Strategy", Decimal(1000))
        for i in range(6)
    ]
    pool = RayStrategyPool(
        specs,
        address=ray_cluster.address,
        timeout=1.0,
        load_timeout=2.0,
        host_grace=1.0,  # a call is late after 2 s (4 s when a worker reloads)
        scratch_root=tmp_path / "scratch",
    )
    try:
        assert all(e is None for e in (await pool.start()).values())
        team_ids = [s.team_id for s in specs]
        assert len(pool.host_pids()) == 2
        frozen_node, frozen_pid = next(iter(pool.host_pids().items()))
        frozen = {t for t, n in pool.placement().items() if n == frozen_node}
        os.kill(frozen_pid, signal.SIGSTOP)  # a host process of the cluster this test started

        late = await pool.run_minute(_views(team_ids))
        assert list(late) == team_ids
        for team_id, result in late.items():
            if team_id in frozen:
                assert result.error is not None and "no answer within 2 s" in result.error.message
            else:
                assert result.error is None, result.error
        assert pool.restarts(sorted(frozen)[0]) == 1

        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while True:  # a minute every 0.1 s, as a paced clock would run them
            results = await pool.run_minute(_views(team_ids))
            assert all(results[t].error is None for t in team_ids if t not in frozen)
            if all(results[t].error is None for t in frozen):
                break
            assert all("restarting" in str(results[t].error) for t in frozen)
            if time.monotonic() > deadline:
                pytest.fail(f"the replaced host's teams did not run in {RESTART_TIMEOUT_S:g} s")
            await asyncio.sleep(0.1)
        assert frozen_pid not in pool.host_pids().values()
    finally:
        await pool.close()
