"""A restarted simulated run never runs a minute twice, whatever happened to run_state.json."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

from .conftest import MIDDAY, next_minute, qtc_run, snapshots

MINUTE = timedelta(minutes=1)


def _first_run(tmp_path: Path, minutes: int) -> tuple[Path, Path]:
    data, log = tmp_path / "data", tmp_path / "logs" / "qtc.log"
    result = qtc_run(data, log, "--start", MIDDAY.isoformat(), "--duration", str(minutes))
    assert result.returncode == 0, result.stderr
    assert next_minute(data) == MIDDAY + minutes * MINUTE
    return data, log


def _never_back(times: list[datetime]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(times))


def test_truncated_run_state_is_recovered_from_the_ledgers_never_rewound(tmp_path: Path) -> None:
    data, log = _first_run(tmp_path, 3)
    (data / "run_state.json").write_text('{"next_mi')

    result = qtc_run(data, log, "--duration", "2")

    assert result.returncode == 0, result.stderr
    text = log.read_text()
    assert "run_state.json is unreadable" in text
    assert "progress recovered" in text
    times = snapshots(data, "alpha")
    assert _never_back(times), times
    assert next_minute(data) == MIDDAY + 5 * MINUTE


def test_missing_run_state_is_recovered_too(tmp_path: Path) -> None:
    data, log = _first_run(tmp_path, 2)
    (data / "run_state.json").unlink()

    result = qtc_run(data, log, "--duration", "1")

    assert result.returncode == 0, result.stderr
    assert "run_state.json is missing; progress recovered" in log.read_text()
    assert _never_back(snapshots(data, "alpha"))
    assert next_minute(data) == MIDDAY + 3 * MINUTE


def test_a_minute_the_exchange_already_matched_is_not_run_again(tmp_path: Path) -> None:
    data, log = _first_run(tmp_path, 3)
    # a kill after the exchange journaled minute 2 but before progress recorded it
    (data / "run_state.json").write_text(
        json.dumps({"next_minute": (MIDDAY + 2 * MINUTE).isoformat()})
    )
    before = snapshots(data, "alpha")

    result = qtc_run(data, log, "--duration", "1")

    assert result.returncode == 0, result.stderr
    assert f"Minute {(MIDDAY + 2 * MINUTE).isoformat()} was interrupted" in log.read_text()
    after = snapshots(data, "alpha")
    assert _never_back(after), after
    # the one minute run is minute 3: its snapshot is taken at its end
    assert after[: len(before)] == before
    assert set(after[len(before) :]) == {MIDDAY + 4 * MINUTE}
    assert next_minute(data) == MIDDAY + 4 * MINUTE


def test_a_start_before_recorded_progress_is_refused(tmp_path: Path) -> None:
    data, log = _first_run(tmp_path, 2)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))

    result = qtc_run(data, log, "--start", MIDDAY.isoformat(), "--duration", "1")

    assert result.returncode == 2
    assert "is before the recorded progress" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    assert next_minute(data) == MIDDAY + 2 * MINUTE
