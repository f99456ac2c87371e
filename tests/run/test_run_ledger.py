"""A ledger line that cannot be read stops `qtc run` with the file and the line, never a silent
change of a portfolio; a line that only lost its newline is kept and counted."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import MIDDAY, qtc_run


def _first_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    data, log = tmp_path / "data", tmp_path / "logs" / "qtc.log"
    result = qtc_run(data, log, "--duration", "3", "--start", MIDDAY.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    ledger = data / "team" / "alpha" / "trades.jsonl"
    assert len(ledger.read_text().splitlines()) >= 1, "buy and hold never bought"
    return data, log, ledger


def test_a_bad_middle_ledger_line_stops_the_start_with_file_and_line(tmp_path: Path) -> None:
    data, log, ledger = _first_run(tmp_path)
    rows = ledger.read_text().splitlines()
    bad = json.loads(rows[0])
    bad["execution_price"] = "12x.5"
    ledger.write_text("\n".join([json.dumps(bad), *rows]) + "\n")
    before = ledger.read_bytes()

    result = qtc_run(data, log, "--duration", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{ledger} line 1" in errors[0], output
    assert ledger.read_bytes() == before


def test_a_ledger_line_that_lost_only_its_newline_is_kept(tmp_path: Path) -> None:
    data, log, ledger = _first_run(tmp_path)
    rows = ledger.read_text().splitlines()
    ledger.write_text("\n".join(rows))  # the last newline lost
    result = qtc_run(data, log, "--duration", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    after = ledger.read_text().splitlines()
    assert after[: len(rows)] == rows
    assert not ledger.with_name("trades.jsonl.torn").exists()
