"""`qtc exchange` refuses a flag it cannot start with in one `error:` line, exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

BAD_FLAGS = [
    (["--buying-power", "1e999999"], "error: --buying-power '1e999999': capital 1E+999999 is too"),
    (["--buying-power", "1E+1000000"], "error: --buying-power '1E+1000000': capital"),
    (["--buying-power", "-5"], "error: --buying-power '-5': capital must be positive"),
    (["--buying-power", "0"], "error: --buying-power '0': capital must be positive"),
    (["--buying-power", "1e-999999"], "error: --buying-power '1e-999999': capital"),
    (["--buying-power", "NaN"], "error: --buying-power 'NaN': capital"),
    (["--buying-power", "lots"], "error: --buying-power 'lots': capital: 'lots' is not a number"),
    (["--start", "9999-12-31"], "error: --start '9999-12-31' is out of range (1970 to a year"),
    (["--start", "0001-01-01T00:00:00+01:00"], "error: --start '0001-01-01T00:00:00+01:00' is"),
    (["--start", "1969-12-31T23:59:00Z"], "error: --start '1969-12-31T23:59:00Z' is out of"),
    (["--start", "99999-01-01"], "error: --start '99999-01-01' is not an ISO 8601 time"),
    (["--start", "yesterday"], "error: --start 'yesterday' is not an ISO 8601 time"),
    (["--ms-per-minute", "nan"], "error: --ms-per-minute nan is out of range (1 to 3600000)"),
    (["--ms-per-minute", "1e999"], "error: --ms-per-minute inf is out of range"),
    (["--ms-per-minute", "0"], "error: --ms-per-minute 0.0 is out of range"),
    (["--port", "99999"], "error: --port 99999 is out of range (0 to 65535)"),
    (["--rate-limit", "-1"], "error: --rate-limit -1 is out of range (0 to 1000000)"),
    (["--control-token", "short"], "error: --control-token: a control token has 16 to 256"),
    (["--control-token", "with a space in it"], "error: --control-token: a control token has"),
    (
        ["--open-control", "--control-token", "a-token-the-operator-chose"],
        "error: --open-control turns the control token off",
    ),
]


def _run(flags: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "qtc", "exchange", "--port", "0", "--clock", "manual"]
    environment = {k: v for k, v in os.environ.items() if k != "QTC_CONTROL_TOKEN"}
    environment.update(env or {})
    return subprocess.run(
        [*command, *flags],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "QTC exchange base URL" not in result.stdout  # it never started serving


@pytest.mark.parametrize(("flags", "expected"), BAD_FLAGS, ids=lambda v: " ".join(v)[:40])
def test_a_bad_flag_is_one_clear_line_and_exit_code_2(flags: list[str], expected: str) -> None:
    _one_error_line(_run(flags), expected)


def test_a_bad_token_in_the_environment_names_the_variable() -> None:
    result = _run([], env={"QTC_CONTROL_TOKEN": "tiny"})
    _one_error_line(result, "error: QTC_CONTROL_TOKEN: a control token has 16 to 256 characters")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_in_use_is_one_clear_line(taken_port: int) -> None:
    result = _run(["--port", str(taken_port)])
    _one_error_line(result, f"error: cannot listen on 127.0.0.1:{taken_port} (Address already")


def test_speed_is_not_a_flag_of_the_exchange() -> None:
    """`--ms-per-minute` is the only name of the pace (`--speed` means a speed-up on `qtc run`)."""
    result = _run(["--speed", "500"])
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "error: unrecognized arguments: --speed 500" in result.stderr
    assert "QTC exchange base URL" not in result.stdout
