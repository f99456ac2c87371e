"""A team's new strategy version takes over on its Ray host at a minute boundary, as on one
box: the minute after the activation runs it, no minute is skipped, the other teams go on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.ray.runs import lines, run
from tests.support.ray_cluster import RayCluster

from qtc.orchestrator import MinuteReport
from qtc.store.strategy_versions import VersionStore
from qtc.strategies.ray_pool import RayStrategyPool
from qtc.strategies.teams import TeamSpec
from qtc.wiring import Components

pytestmark = [pytest.mark.slow, pytest.mark.ray]

EVERY_MINUTE = Path(__file__).resolve().parent / "strategies" / "every_minute"
# version 2 sells instead of buying: which version sent an order shows in its side
SELLER = b"""class Strategy:
    def __init__(self, **params):
        pass

    def generate_signal(self, team, bars, current_prices):
        symbol = sorted(s for s in current_prices if "/" not in s)[0]
        if not team["positions"].get(symbol):
            return None
        return {"symbol": symbol, "action": "sell", "quantity": 1, "price": current_prices[symbol]}
"""


def _orders(data: Path, team_id: str) -> list[dict[str, Any]]:
    folder = data / "team" / team_id
    every = lines(folder / "orders.jsonl") + lines(folder / "pending_orders.jsonl")
    return sorted({o["order_id"]: o for o in every}.values(), key=lambda o: o["created_at"])


async def test_a_new_version_takes_over_on_its_ray_host_at_the_next_minute(
    tmp_path: Path, ray_cluster: RayCluster
) -> None:
    specs = [
        TeamSpec(f"t{i}", EVERY_MINUTE, "strategy", "Strategy", Decimal(100_000)) for i in range(4)
    ]
    data = tmp_path / "run"
    store = VersionStore(data)
    state: dict[str, Any] = {"swapped_after": None}

    def on_minute(parts: Components, report: MinuteReport) -> None:
        minutes = parts.orchestrator.totals.minutes
        if minutes == 3:
            added = store.add(
                "t0",
                {"strategy.py": SELLER},
                entry="strategy:Strategy",
                params={},
                uploaded_by="t0",
                now=datetime.now(UTC),
            )
            store.activate("t0", added.n, by="t0", now=datetime.now(UTC))
            state["swapped_after"] = minutes
        if minutes >= 8:
            parts.orchestrator.stop()

    parts = await run(
        data, specs, f"ray:{ray_cluster.address}", 60, speed=200.0, on_minute=on_minute
    )
    pool = parts.strategies
    assert isinstance(pool, RayStrategyPool)
    minutes = parts.orchestrator.totals.minutes
    orders = _orders(data, "t0")
    versions = [o["extra"].get("strategy_version") for o in orders]
    sides = [o["side"] for o in orders]
    # three buys by v1, then v2 from the next minute on: a sell a minute, no minute twice
    assert versions[:3] == [1, 1, 1] and set(versions[3:]) == {2}, versions
    assert sides[:3] == ["buy"] * 3 and set(sides[3:]) == {"sell"}, sides
    assert len(orders) <= minutes
    for other in ("t1", "t2", "t3"):
        theirs = _orders(data, other)
        assert len(theirs) == minutes and {o["side"] for o in theirs} == {"buy"}, other
    swapped = [e for e in lines(data / "team" / "t0" / "errors.jsonl") if e["phase"] == "version"]
    assert len(swapped) == 1 and "now runs strategy v2" in swapped[0]["message"]
