"""Every named crash point, in turn, in a real `qtc run`: die there, restart over the same data
directory, run to the end, and compare the team files with the broker's truth.

A clean traced run first tells which points the scenario reaches and how often; each reached
point is then armed at its middle hit (`QTC_CRASH_AT=name:n`), the process must end with
CRASH_EXIT, and the restarted run must leave every ledger equal to the broker's executions,
every portfolio equal to the ledger's replay, `pending_orders.jsonl` equal to the broker's open
orders, and no minute's order sent twice. Points the scenario never reaches are listed as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.conftest import Exchange, Processes

from qtc.crashpoints import CRASH_EXIT, POINTS

from .harness import Scenario, check, start_alpaca_exchange

ONLY = os.environ.get("QTC_FAULT_POINTS")  # comma-separated names: a quicker look at a few


@dataclass
class Row:
    """One line of the table."""

    point: str
    scenario: str
    hits: str
    outcome: str


@pytest.fixture
def processes() -> Iterator[Processes]:
    with Processes() as group:
        yield group


def _traced_run(scenario: Scenario, trace: Path) -> tuple[Counter[str], list[str]]:
    """A clean run with every point hit traced: hits per point, and what differs at the end."""
    problems = []
    rc = scenario.wait(scenario.start_run(QTC_CRASH_TRACE=str(trace)))
    if rc != 0:
        problems.append(f"the clean run exited {rc}: {scenario.last_output()[-600:]}")
    problems += scenario.settle()
    problems += check(scenario)
    hits = Counter(trace.read_text().split()) if trace.exists() else Counter()
    return hits, problems


def _crash_and_recover(scenario: Scenario, point: str, nth: int) -> str:
    """Die at the nth hit of `point`, restart, settle, compare: the table's outcome."""
    rc = scenario.wait(scenario.start_run(QTC_CRASH_AT=f"{point}:{nth}"))
    if rc not in (CRASH_EXIT, 0):
        return f"the armed run exited {rc}, not {CRASH_EXIT}: {scenario.last_output()[-400:]}"
    if scenario.exchange is not None:
        scenario.exchange.advance(2)  # the exchange trades on while nobody watches
    problems = scenario.finish() + check(scenario)
    if rc == 0:
        return "not reached" + (f" (and: {'; '.join(problems)})" if problems else "")
    return "ok" if not problems else "; ".join(problems)


def _walk(tmp_path: Path, processes: Processes, exchange: Exchange | None) -> list[Row]:
    mode = "alpaca" if exchange is not None else "simulated"
    baseline = Scenario(tmp_path / "clean", {"c0a": 0, "c0b": 1}, processes, exchange)
    hits, problems = _traced_run(baseline, tmp_path / "trace.txt")
    rows = [Row("(none: clean run)", mode, "-", "ok" if not problems else "; ".join(problems))]
    for index, point in enumerate(POINTS):
        if ONLY and point not in ONLY.split(","):
            continue
        total = hits.get(point, 0)
        if total == 0:
            rows.append(Row(point, mode, "0", "not reached"))
            continue
        nth = max(1, total // 2)
        teams = {f"p{index:02d}a": 0, f"p{index:02d}b": 1}
        scenario = Scenario(tmp_path / f"p{index:02d}", teams, processes, exchange)
        outcome = _crash_and_recover(scenario, point, nth)
        rows.append(Row(point, mode, f"{nth - 1} of {total}", outcome))
    return rows


def _print_table(rows: list[Row]) -> None:
    width = max(len(r.point) for r in rows)
    print(f"\n{'point':<{width}}  scenario   hits before crash  outcome")
    for r in rows:
        print(f"{r.point:<{width}}  {r.scenario:<9}  {r.hits:<17}  {r.outcome}")
    reached = [r for r in rows if r.outcome != "not reached" and r.hits != "-"]
    print(
        f"{len(reached)} points crashed and recovered, "
        f"{sum(r.outcome == 'not reached' for r in rows)} not reached, "
        f"{sum(r.outcome != 'ok' and r.outcome != 'not reached' for r in rows)} mismatches"
    )


def _assert_ok(rows: list[Row]) -> None:
    _print_table(rows)
    bad = [r for r in rows if r.outcome not in ("ok", "not reached")]
    assert not bad, "\n".join(f"{r.point} ({r.scenario}): {r.outcome}" for r in bad)
    assert any(r.outcome == "ok" and r.hits != "-" for r in rows), "no point was reached"


def test_every_crash_point_on_the_simulated_exchange(tmp_path: Path, processes: Processes) -> None:
    _assert_ok(_walk(tmp_path, processes, None))


def test_every_crash_point_in_alpaca_mode_against_qtc_exchange(
    tmp_path: Path, processes: Processes
) -> None:
    exchange = start_alpaca_exchange(processes, tmp_path)
    _assert_ok(_walk(tmp_path, processes, exchange))


@pytest.mark.parametrize("point", ["keys.tmp_written", "keys.renamed"])
def test_a_key_issue_killed_at_any_point_leaves_a_whole_key_file(
    tmp_path: Path, point: str
) -> None:
    data = tmp_path / "data"
    issue = [sys.executable, "-m", "qtc", "teams", "key", "--data-dir", str(data)]
    assert subprocess.run([*issue, "alpha"], capture_output=True, timeout=60).returncode == 0
    before = json.loads((data / "api_keys.json").read_text())
    killed = subprocess.run(
        [*issue, "bravo"],
        capture_output=True,
        timeout=60,
        env={**os.environ, "QTC_CRASH_AT": point},
    )
    assert killed.returncode == CRASH_EXIT
    after = json.loads((data / "api_keys.json").read_text())  # whole JSON, old or new
    assert after == before if point == "keys.tmp_written" else set(after) == {"alpha", "bravo"}
    again = subprocess.run([*issue, "bravo"], capture_output=True, timeout=60)
    assert again.returncode == 0
    assert set(json.loads((data / "api_keys.json").read_text())) == {"alpha", "bravo"}
    print(f"{point:<27} keys       1 of 1             ok")
