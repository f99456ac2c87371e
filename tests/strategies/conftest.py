"""Fixtures for the strategy tests: fixture folders, pool factory, view builder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtc.strategies.sandbox import StrategyPool
from qtc.strategies.teams import TeamSpec, make_spec

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"

PoolFactory = Callable[..., Awaitable[StrategyPool]]


def strategy_folder(name: str) -> Path:
    """`hostile/x`, `good/x` or `examples/x`: the folder of a strategy fixture or example."""
    kind, _, rest = name.partition("/")
    return EXAMPLES / rest if kind == "examples" else HERE / kind / rest


def _spec(team_id: str, name: str, **params: Any) -> TeamSpec:
    return make_spec(team_id, strategy_folder(name), "strategy:Strategy", 100000, params)


def _view(
    team_id: str,
    *,
    prices: dict[str, Decimal] | None = None,
    closes: list[Decimal] | None = None,
    cash: Decimal = Decimal("100000"),
    positions: dict[str, dict[str, Decimal]] | None = None,
    open_orders: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One team's minute view as the orchestrator builds it (Decimals, not floats)."""
    prices = prices or {"AAA": Decimal("100")}
    closes = closes or [Decimal("100")] * 30
    bars = {
        symbol: {
            "timestamp": list(range(len(closes))),
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": [Decimal(1000)] * len(closes),
        }
        for symbol in prices
    }
    return {
        "team": {
            "id": team_id,
            "cash": cash,
            "positions": positions or {},
            "params": {},
            "open_orders": open_orders or [],
        },
        "bars": bars,
        "current_prices": prices,
    }


@pytest.fixture
def folder() -> Callable[[str], Path]:
    """Resolve `hostile/x`, `good/x`, `examples/x` to a strategy folder."""
    return strategy_folder


@pytest.fixture
def team() -> Callable[..., TeamSpec]:
    """team(team_id, "hostile/raises", **params) -> TeamSpec."""
    return _spec


@pytest.fixture
def view() -> Callable[..., dict[str, Any]]:
    """view(team_id, prices=..., closes=..., ...) -> one team's minute view."""
    return _view


@pytest.fixture
async def make_pool(tmp_path: Path) -> AsyncIterator[PoolFactory]:
    """Build pools that are always closed at the end of the test (workers and fork server)."""
    pools: list[StrategyPool] = []

    async def build(specs: list[TeamSpec], **options: Any) -> StrategyPool:
        options.setdefault("timeout", 0.5)
        options.setdefault("load_timeout", 10.0)
        options.setdefault("preload", ())
        options.setdefault("scratch_root", tmp_path / "scratch")
        pool = StrategyPool(specs, **options)
        pools.append(pool)
        return pool

    try:
        yield build
    finally:
        for pool in pools:
            await pool.close()
