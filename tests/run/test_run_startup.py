"""`qtc run` refuses a bad start with one `error: ...` line and exit code 2, writing nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import MIDDAY, clean_env, qtc_run, run_args, team_arg, wait_until


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*")) if folder.is_dir() else []


def _assert_one_error(result: subprocess.CompletedProcess[str], log: Path, text: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and text in errors[0], output
    assert text in log.read_text()


def test_a_second_run_on_a_locked_data_dir_fails_at_once(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "first.log"
    first = subprocess.Popen(
        run_args(data, log, "--no-api", "--start", MIDDAY.isoformat(), "--speed", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:

        def started() -> bool:
            assert first.poll() is None, "the first run ended"
            return log.exists() and "QTC run:" in log.read_text()

        wait_until(started, 60, "the first run to start")
        assert (data / ".qtc.lock").read_text().strip() == str(first.pid)
        before = _files(data)
        second_log = tmp_path / "second.log"

        result = qtc_run(data, second_log, "--duration", "1")

        _assert_one_error(
            result,
            second_log,
            f"data directory {data} is in use by another qtc run (pid {first.pid})",
        )
        assert _files(data) == before
    finally:
        first.terminate()
        first.wait(30)


@pytest.mark.parametrize(
    ("case", "text"),
    [
        ("duplicate_team", "team id 'alpha' is given twice"),
        ("data_dir_is_a_file", "is a file, not a directory"),
        ("garbled_keys", "api_keys.json is not valid JSON"),
        ("unparsable_start", "is not an ISO-8601 time"),
        ("impossible_date", "is not an ISO-8601 time"),
        ("start_out_of_range", "is out of range"),
        ("corrupt_journal", "journal.jsonl"),
    ],
)
def test_a_bad_start_is_one_clear_error(tmp_path: Path, case: str, text: str) -> None:
    data, log = tmp_path / "data", tmp_path / "logs" / "qtc.log"
    extra: list[str] = ["--duration", "1"]
    if case == "duplicate_team":
        extra += ["--teams", team_arg("alpha")]
    elif case == "data_dir_is_a_file":
        data.write_text("not a folder\n")
    elif case == "garbled_keys":
        data.mkdir()
        (data / "api_keys.json").write_text('{"alpha": "ab')
        extra += ["--api-port", "0"]
    elif case == "unparsable_start":
        extra += ["--start", "yesterday"]
    elif case == "impossible_date":
        extra += ["--start", "2025-02-30T15:00:00Z"]
    elif case == "start_out_of_range":
        extra += ["--start", "0001-01-01T00:00:00Z"]
    elif case == "corrupt_journal":
        journal = data / "exchange" / "journal.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_text('{"op":"set_pr\n{"op":"end_session","now":null}\n')
    before = _files(data)

    result = qtc_run(data, log, *extra)

    _assert_one_error(result, log, text)
    after = [p for p in _files(data) if p.name != ".qtc.lock"]
    assert after == [p for p in before if p.name != ".qtc.lock"]


def test_a_read_only_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    # A read-only bind mount in a private namespace: the test runs as root, which chmod
    # would not stop.
    data, log = tmp_path / "data", tmp_path / "logs" / "qtc.log"
    data.mkdir()
    command = " ".join(f"'{a}'" for a in run_args(data, log, "--no-api", "--duration", "1"))
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount --bind -o ro '{data}' '{data}' && exec {command}"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    _assert_one_error(result, log, f"data directory {data} is not writable")
    assert _files(data) == []
