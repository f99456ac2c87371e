"""`qtc run` speaks systemd's notify protocol: READY after loading, WATCHDOG pings, STOPPING."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.run.conftest import MIDDAY, clean_env, run_args
from tests.support.processes import Processes

from qtc.service_notify import ServiceNotifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(1.0)
        yield sock, path


def _messages_until_stopping(sock: socket.socket, log: Path, timeout: float) -> list[str]:
    """Every datagram until STOPPING=1 (or the deadline); the log is read as READY arrives."""
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            datagram = sock.recv(4096).decode()
        except TimeoutError:
            continue
        if "READY=1" in datagram.splitlines():
            received.append(f"LOG AT READY={log.read_text()}")
        received.append(datagram)
        if "STOPPING=1" in datagram.splitlines():
            return received
    pytest.fail(f"no STOPPING=1 within {timeout}s; received {received}")


def test_a_run_tells_systemd_ready_watchdog_and_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, Path]
) -> None:
    sock, path = notify_socket
    data, log = tmp_path / "data", tmp_path / "qtc.log"
    # 6 minutes at 0.1 s each: long enough for several pings at a 0.2 s watchdog
    command = run_args(data, log, "--no-api", "--start", MIDDAY.isoformat(), "--duration", "6")
    command[command.index("--speed") + 1] = "600"
    env = clean_env(NOTIFY_SOCKET=str(path), WATCHDOG_USEC="200000")
    with Processes() as processes:
        run = processes.start(command, tmp_path / "out.txt", env)
        messages = _messages_until_stopping(sock, log, timeout=90)
        assert run.wait(60) == 0, (tmp_path / "out.txt").read_text()

    lines = [line for message in messages for line in message.splitlines()]
    ready = lines.index("READY=1")
    stopping = lines.index("STOPPING=1")
    at_ready = next(m for m in messages if m.startswith("LOG AT READY="))
    # ready only once the ledgers are replayed and the broker reconciled, before any minute ran
    assert "Loaded 1 teams" in at_ready
    assert not any(line.startswith("STATUS=last minute") for line in lines[:ready])
    assert sum(line == "WATCHDOG=1" for line in lines[ready:stopping]) >= 2
    statuses = [line for line in lines[ready:stopping] if line.startswith("STATUS=last minute")]
    assert len(statuses) == 6 and "17:05 UTC" in statuses[-1]
    assert lines.count("READY=1") == 1 and lines.count("STOPPING=1") == 1


def test_no_socket_no_messages_and_a_watchdog_meant_for_another_process_is_ignored() -> None:
    assert not ServiceNotifier.from_environ({}, pid=10).active
    other = ServiceNotifier.from_environ(
        {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "11"}, pid=10
    )
    ours = ServiceNotifier.from_environ(
        {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "10"}, pid=10
    )
    assert other.watchdog_seconds is None
    assert ours.watchdog_seconds == 30.0


def test_an_abstract_socket_address_is_reached() -> None:
    name = f"qtc-notify-test-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        ServiceNotifier.from_environ({"NOTIFY_SOCKET": "@" + name}, pid=1).ready("up")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_a_vanished_manager_is_one_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = ServiceNotifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "gone")}, pid=1)
    notifier.ready("up")
    notifier.status("still up")
    notifier.stopping()
    warnings = [r for r in caplog.records if "Cannot notify the service manager" in r.message]
    assert len(warnings) == 1


async def test_a_hung_event_loop_stops_the_pings(
    notify_socket: tuple[socket.socket, Path],
) -> None:
    sock, path = notify_socket
    notifier = ServiceNotifier(str(path), watchdog_seconds=0.6)  # a ping every 0.3 s
    loop = asyncio.get_running_loop()

    async def next_datagram() -> bytes:
        sock.setblocking(False)
        return await asyncio.wait_for(loop.sock_recv(sock, 64), 5)

    watchdog = asyncio.create_task(notifier.run_watchdog())
    try:
        assert await next_datagram() == b"WATCHDOG=1"
        # this coroutine now holds the loop without awaiting, as a hung minute would: for
        # three ping intervals nothing arrives
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(64)
        assert await next_datagram() == b"WATCHDOG=1"  # the loop runs again: so do the pings
    finally:
        watchdog.cancel()
