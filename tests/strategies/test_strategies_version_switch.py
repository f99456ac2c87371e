"""The minute-boundary switch over a real version store: swaps only when the pointer moves,
flags a version failing N minutes in a row, and (as a policy) rolls it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from qtc.store.strategy_versions import VersionStore
from qtc.strategies.results import StrategyError, StrategyResult
from qtc.strategies.teams import TeamSpec
from qtc.uploads.swap import VersionSwitch

MINUTE = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)
BROKEN = StrategyResult(error=StrategyError("signal", "ZeroDivisionError: x (at strategy.py:3)"))


class _Pool:
    """The pool's side of a swap: records what it was asked to run."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, Path]] = []

    async def replace(self, spec: TeamSpec) -> StrategyError | None:
        self.ran.append((spec.team_id, spec.path))
        return None


def _setup(tmp_path: Path, **options: Any) -> tuple[VersionStore, _Pool, VersionSwitch, list]:
    store = VersionStore(tmp_path)
    for n, body in enumerate((b"1", b"2"), start=1):
        store.add("alpha", {"strategy.py": body}, entry="strategy:Strategy", params={"n": n},
                  uploaded_by="t", now=MINUTE)  # fmt: skip
    store.activate("alpha", 1, by="t", now=MINUTE)
    spec = TeamSpec("alpha", tmp_path / "given", "strategy", "Strategy", Decimal(1000))
    pool, lines = _Pool(), []
    switch = VersionSwitch(
        store, pool, {"alpha": (spec, 1)},
        record_error=lambda *line: lines.append(line), **options,
    )  # fmt: skip
    return store, pool, switch, lines


async def test_a_swap_happens_once_when_the_pointer_moves(tmp_path: Path) -> None:
    store, pool, switch, lines = _setup(tmp_path)
    await switch.before_minute(MINUTE)
    assert pool.ran == [] and switch.version_of("alpha") == 1
    store.activate("alpha", 2, by="t", now=MINUTE)
    await switch.before_minute(MINUTE + timedelta(minutes=1))
    await switch.before_minute(MINUTE + timedelta(minutes=2))
    assert pool.ran == [("alpha", store.folder("alpha") / "v2")]
    assert switch.version_of("alpha") == 2 and switch.params_of("alpha") == {"n": 2}
    assert lines == [
        ("alpha", "version",
         "Team alpha now runs strategy v2 from minute 2025-11-19 17:01 UTC (was v1)", None),
    ]  # fmt: skip


async def test_a_version_failing_n_minutes_is_flagged_then_cleared(tmp_path: Path) -> None:
    _store, _pool, switch, _lines = _setup(tmp_path, failing_minutes=3)
    for n in range(2):
        switch.after_minute(MINUTE + timedelta(minutes=n), {"alpha": BROKEN})
    assert switch.failing("alpha") is None
    switch.after_minute(MINUTE + timedelta(minutes=2), {"alpha": BROKEN})
    assert switch.failing("alpha") == {
        "version": 1, "consecutive_minutes": 3, "since": MINUTE.isoformat(),
        "last_error": "ZeroDivisionError: x (at strategy.py:3)",
    }  # fmt: skip
    switch.after_minute(MINUTE + timedelta(minutes=3), {"alpha": StrategyResult()})
    assert switch.failing("alpha") is None


async def test_the_auto_rollback_policy_returns_to_the_previous_version(tmp_path: Path) -> None:
    store, pool, switch, lines = _setup(tmp_path, failing_minutes=2, auto_rollback=True)
    store.activate("alpha", 2, by="t", now=MINUTE)
    await switch.before_minute(MINUTE)
    for n in range(2):
        switch.after_minute(MINUTE + timedelta(minutes=n), {"alpha": BROKEN})
    assert store.active("alpha").n == 1  # the pointer moved back at once
    assert lines[-1][2] == "Team alpha strategy v2 is failing: rolled back to v1"
    await switch.before_minute(MINUTE + timedelta(minutes=2))  # and it runs from the next
    assert pool.ran[-1] == ("alpha", store.folder("alpha") / "v1")
    assert switch.version_of("alpha") == 1 and switch.failing("alpha") is None
