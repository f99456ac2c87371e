"""2,000 idle connections against a real `qtc run` API and a real `qtc exchange`, each started
with soft and hard RLIMIT_NOFILE at 1,024: sockets on 127.0.0.1 that never send a byte.

Authenticated requests are still answered within 1 s (each on a new connection, with a client
timeout of 1 s), the idle sockets are evicted or timed out, the run goes on trading and its
ledgers agree with the exchange's journal (no fill lost, none doubled). The figures are printed
(`pytest -s`) for the closing note.
"""

from __future__ import annotations

import os
import re
import resource
import selectors
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import Processes, clean_env, read_lines
from tests.support.waiting import wait_until

from qtc.connection_limits import DEFAULT_HEADER_TIMEOUT

from .harness import SEED, SYMBOLS, Scenario, Summary, check

FILE_LIMIT = 1024
IDLE = 2000
ANSWER_WITHIN = 1.0  # seconds: the client's own timeout, connect included
REQUESTS = 20
OPEN_DEADLINE = 60.0
START_DEADLINE = 60.0
CLOSE_DEADLINE = DEFAULT_HEADER_TIMEOUT + 15.0
KEY, SECRET = "idle-key", "idle-secret"
URL_PREFIX = "QTC exchange base URL: "
CAP_LINE = re.compile(r"Connections: at most (\d+) open")


@pytest.fixture(autouse=True)
def descriptors_for_the_test() -> None:
    """This process holds the idle sockets: its soft limit goes up to its hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = IDLE + 200
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(
            f"the idle-connection test needs {needed} open files in the test process and the "
            f"hard limit is {hard}: raise it (ulimit -Hn {needed}, or LimitNOFILE in systemd)"
        )
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture
def processes() -> Iterator[Processes]:
    with Processes() as group:
        yield group


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


def start_limited(
    processes: Processes, command: list[str], out: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start `command` with soft and hard RLIMIT_NOFILE at FILE_LIMIT (ended by `processes`)."""
    with out.open("ab") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit_files,
        )
    processes.started.append(process)
    return process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Descriptors:
    """Samples a process's open descriptors from /proc on a thread; the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def now(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.now())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class IdleSockets:
    """Sockets connected to 127.0.0.1:`port` that never send a byte."""

    port: int
    open: list[socket.socket] = field(default_factory=list)
    opened: int = 0
    failed: int = 0
    slowest_connect: float = 0.0
    closed_by_server: int = 0
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)

    def connect(self, count: int) -> float:
        """Open `count` sockets (bounded by OPEN_DEADLINE); the seconds it took."""
        started = time.monotonic()
        for _ in range(count):
            if time.monotonic() - started > OPEN_DEADLINE:
                pytest.fail(f"opened only {self.opened} idle sockets in {OPEN_DEADLINE}s")
            before = time.monotonic()
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                self.failed += 1
                continue
            self.slowest_connect = max(self.slowest_connect, time.monotonic() - before)
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
            self.open.append(sock)
            self.opened += 1
        return time.monotonic() - started

    def reap(self) -> int:
        """Count (and close) the sockets the server has closed; how many are still open."""
        for key, _ in self.selector.select(0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            assert data == b"", f"an idle socket was sent {data[:80]!r}"
            self.selector.unregister(sock)
            sock.close()
            self.open.remove(sock)
            self.closed_by_server += 1
        return len(self.open)

    def close(self) -> None:
        for sock in self.open:
            sock.close()
        self.open.clear()
        self.selector.close()


def client() -> httpx.Client:
    """A client that opens a new connection for every request, as a new user would."""
    return httpx.Client(timeout=ANSWER_WITHIN, limits=httpx.Limits(max_keepalive_connections=0))


def answered(request: Callable[[], httpx.Response], what: str) -> float:
    """Time one request, on a new connection, that must be answered 200 within ANSWER_WITHIN."""
    started = time.monotonic()
    try:
        response = request()
    except httpx.TimeoutException as e:
        pytest.fail(f"{what} not answered within {ANSWER_WITHIN}s ({type(e).__name__})")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:200]}"
    return elapsed


def answers(request: Callable[[], httpx.Response], what: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        times.append(answered(request, what))
        time.sleep(0.05)  # spread over a while: the same idle sockets, held
    return times


class Figures:
    """What one server did under the idle sockets, printed as it is learnt (`pytest -s`)."""

    def __init__(self, server: str, cap: int) -> None:
        self.cap = cap
        print(f"\n{server}: RLIMIT_NOFILE {FILE_LIMIT}/{FILE_LIMIT}, connection cap {cap}")

    def add(self, line: str) -> None:
        print(f"  {line}", flush=True)


def logged_cap(*outputs: Path) -> int:
    """The connection cap the server logged at start."""
    for path in outputs:
        if path.exists() and (found := CAP_LINE.search(path.read_text())):
            return int(found.group(1))
    pytest.fail(f"no 'Connections: at most N open' line in {[str(p) for p in outputs]}")


def ms(times: list[float]) -> str:
    ordered = sorted(times)
    return (
        f"{len(ordered)} answered, median {ordered[len(ordered) // 2] * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


def flood(
    port: int, pid: int, request: Callable[[], httpx.Response], what: str, figures: Figures
) -> None:
    """IDLE idle sockets against `port`; `request` answered meanwhile; all of them closed."""
    fds = Descriptors(pid)
    idle = IdleSockets(port)
    figures.add(f"descriptors before: {fds.now()}")
    during: list[float] = []
    failed_during: list[str] = []
    stop = threading.Event()

    def meanwhile() -> None:
        # while the sockets are being opened: reported, not held to the 1 s (a connect may
        # wait for a SYN retransmission while the kernel's accept queue is full)
        while not stop.wait(0.1):
            started = time.monotonic()
            try:
                response = request()
            except httpx.HTTPError as e:
                failed_during.append(type(e).__name__)
                continue
            if response.status_code == 200:
                during.append(time.monotonic() - started)
            else:
                failed_during.append(str(response.status_code))

    requester = threading.Thread(target=meanwhile, daemon=True)
    requester.start()
    try:
        took = idle.connect(IDLE)
        stop.set()
        requester.join(5)
        assert idle.opened == IDLE, f"only {idle.opened} of {IDLE} idle sockets connected"
        held = answers(request, what, REQUESTS)
        still_open = idle.reap()
        evicted = idle.closed_by_server
        wait_until(lambda: idle.reap() == 0, CLOSE_DEADLINE, "the idle sockets to be closed")
        after = answers(request, what, 5)
    finally:
        stop.set()
        idle.close()
        fds.stop()
    figures.add(
        f"{idle.opened} idle sockets connected in {took:.2f}s "
        f"(slowest connect {idle.slowest_connect * 1000:.0f} ms, {idle.failed} failed)"
    )
    failures = f", {len(failed_during)} not: {', '.join(failed_during)}" if failed_during else ""
    figures.add(f"while connecting: {ms(during) if during else 'none answered'}{failures}")
    figures.add(f"with {IDLE} idle sockets held: {ms(held)}")
    figures.add(
        f"closed by the server: {evicted} at once (evicted over the cap), then the other "
        f"{still_open} by the {DEFAULT_HEADER_TIMEOUT:.0f}s header timeout; 0 left open"
    )
    figures.add(f"after they were closed: {ms(after)}")
    figures.add(f"descriptors: peak {fds.peak}, after {fds.now()} (limit {FILE_LIMIT})")
    assert max(held + after) < ANSWER_WITHIN
    assert evicted >= IDLE - figures.cap


def test_team_api_answers_and_trades_under_2000_idle_connections(
    tmp_path: Path, processes: Processes
) -> None:
    scenario = Scenario(
        tmp_path, {"alpha": 0, "beta": 1}, processes, trade_minutes=10_000, end_minute=10_000
    )
    issued = subprocess.run(
        [sys.executable, "-m", "qtc", "teams", "key", "alpha", "--data-dir", str(scenario.data)],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        timeout=60,
    )
    key = issued.stdout.split()[0]
    port = free_port()
    log = tmp_path / "run.log"
    command = [sys.executable, "-m", "qtc", "run", "--registry", str(scenario.registry(False))]
    command += ["--market", "simulated", "--symbols", *SYMBOLS, "--seed", str(SEED)]
    command += ["--speed", "120", "--duration", "200", "--start", scenario.start.isoformat()]
    command += ["--data-dir", str(scenario.data), "--api-port", str(port)]
    command += ["--reconcile-interval", "1", "--log-file", str(log), "--strategy-timeout", "5"]
    out = tmp_path / "run.out"
    run = start_limited(processes, command, out, clean_env())
    base = f"http://127.0.0.1:{port}"

    def status_answers() -> bool:
        assert run.poll() is None, f"qtc run exited:\n{out.read_text()[-2000:]}"
        try:
            return httpx.get(f"{base}/api/v1/status", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def ledger_lines() -> int:
        return sum(
            len(read_lines(scenario.data / "team" / team / "trades.jsonl"))
            for team in scenario.teams
        )

    wait_until(status_answers, START_DEADLINE, "the team API to answer")
    wait_until(ledger_lines, START_DEADLINE, "the first fill in a ledger")

    figures = Figures("qtc run (team API)", logged_cap(log, out))
    before = ledger_lines()
    with client() as team:

        def open_orders() -> httpx.Response:
            return team.get(f"{base}/api/v1/team/alpha/orders/open", headers={"X-API-Key": key})

        flood(port, run.pid, open_orders, "GET /api/v1/team/alpha/orders/open", figures)
    during = ledger_lines() - before
    assert during > 0, "no fill was recorded while the idle sockets were held"
    assert run.poll() is None, f"qtc run exited:\n{out.read_text()[-2000:]}"

    run.send_signal(signal.SIGTERM)
    assert run.wait(60) == 0, out.read_text()[-2000:]
    summary = Summary()
    assert check(scenario, summary) == []
    output = out.read_text() + log.read_text()
    assert "Too many open files" not in output
    assert "EMFILE" not in output
    # the umask `qtc` sets at start: the team's files are the organiser's alone
    team_dir = scenario.data / "team" / "alpha"
    assert stat.S_IMODE(team_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((team_dir / "trades.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    figures.add(
        f"fills: {during} recorded during the attack, {summary.fills} in the ledgers, "
        f"{summary.executions} executions at the exchange, {summary.lost} lost, "
        f"{summary.doubled} doubled"
    )


def test_exchange_answers_under_2000_idle_connections(tmp_path: Path, processes: Processes) -> None:
    out = tmp_path / "exchange.out"
    command = [sys.executable, "-m", "qtc", "exchange", "--port", "0", "--clock", "manual"]
    command += ["--key", KEY, "--secret", SECRET]
    exchange = start_limited(processes, command, out, clean_env())

    def url() -> str | None:
        assert exchange.poll() is None, f"qtc exchange exited:\n{out.read_text()}"
        for line in out.read_text().splitlines():
            if line.startswith(URL_PREFIX):
                return line[len(URL_PREFIX) :].strip()
        return None

    base: str = wait_until(url, START_DEADLINE, "qtc exchange to print its URL")
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}

    order = {
        "symbol": "AAPL",
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "limit_price": "1.00",
        "time_in_force": "gtc",
    }
    with client() as alpaca:

        def account() -> httpx.Response:
            return alpaca.get(f"{base}/v2/account", headers=headers)

        def ready() -> bool:
            try:
                return account().status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, START_DEADLINE, "qtc exchange to answer")
        figures = Figures("qtc exchange", logged_cap(out))
        flood(int(base.rsplit(":", 1)[1]), exchange.pid, account, "GET /v2/account", figures)
        placed = alpaca.post(f"{base}/v2/orders", headers=headers, json=order)
        assert placed.status_code == 200, placed.text
        assert placed.json()["status"] in ("new", "accepted", "pending_new")
    assert "Too many open files" not in out.read_text()
