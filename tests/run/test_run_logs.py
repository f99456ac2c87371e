"""What `qtc run` logs where: --quiet, --log-format json, --log-level, the seed's lines, and a
log file that holds the run's very last line (the queue in front of it is drained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qtc.settings import Settings

from .conftest import MIDDAY, qtc_run

RUN = ("--duration", "3", "--start", MIDDAY.isoformat())


def test_quiet_json_run_console_file_fields_and_the_real_reconcile_interval(
    tmp_path: Path,
) -> None:
    log = tmp_path / "logs" / "qtc.log"
    result = qtc_run(
        tmp_path / "data",
        log,
        *RUN,
        "--quiet", "--log-format", "json", "--speed", "400", "--reconcile-interval", "30",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    console = (result.stdout + result.stderr).splitlines()
    assert not [line for line in console if '"INFO"' in line or " INFO " in line], console
    assert any(line.startswith("QTC run: 1 teams") for line in console)  # the start line
    assert any("QTC run summary" in line for line in console)

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries and all({"timestamp", "level", "logger", "message"} <= set(e) for e in entries)
    assert all(e["timestamp"].endswith("+00:00") for e in entries)
    messages = [e["message"] for e in entries]
    # the seed's lines, word for word, the interval in real seconds (not 30 x 400)
    assert "Starting background order reconciliation loop (30s interval)..." in messages
    assert "Reconciling 0 pending orders with the simulated exchange..." in messages
    assert "Reconciliation complete: 0 orders updated, 0 filled" in messages

    stored = [e for e in entries if e["message"].startswith("Stored pending market order")]
    assert stored and stored[0]["level"] == "INFO", messages
    first = stored[0]
    assert first["team"] == "alpha" and first["order_id"].startswith("alpha-")
    assert first["order_id"] in first["message"]
    assert first["minute"] == MIDDAY.isoformat()
    filled = [e for e in entries if " FILLED: " in e["message"]]
    assert filled and all(e["team"] == "alpha" and "order_id" in e for e in filled)
    # the line logged last of all, after the summary, reached the file before the exit
    assert entries[-1]["message"].startswith("QTC run finished: 3 minutes"), messages[-3:]


def test_log_level_warning_drops_info_from_the_file(tmp_path: Path) -> None:
    log = tmp_path / "qtc.log"
    result = qtc_run(tmp_path / "data", log, *RUN, "--log-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert not [line for line in log.read_text().splitlines() if "[INFO]" in line]
    assert " INFO " not in result.stdout + result.stderr
    assert (tmp_path / "data" / "team" / "alpha" / "trades.jsonl").exists()  # it did trade


@pytest.mark.parametrize(("raw", "level"), [("debug", "DEBUG"), ("WARNING", "WARNING")])
def test_the_log_level_comes_from_qtc_log_level_too(
    raw: str, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QTC_LOG_LEVEL", raw)
    monkeypatch.setenv("QTC_LOG_FORMAT", "JSON")
    settings = Settings()
    assert (settings.log_level, settings.log_format) == (level, "json")


def test_an_unknown_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QTC_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="log_level"):
        Settings()
