"""The `/qtc/*` controls answer only the control token; `--open-control` opens them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from alpaca.trading.requests import LimitOrderRequest
from tests.support.waiting import wait_until

from qtc.exchange.server.control_token import CONTROL_TOKEN_HEADER
from qtc.exchange.server.local_exchange import ExchangeConfig, build_local_exchange
from qtc.exchange.server.thread import ServerThread
from qtc.market.calendar import MarketCalendar

from .conftest import KEY, SECRET, START, SYMBOLS, Harness

TOKEN_PREFIX = "QTC exchange control token (send as X-QTC-Control-Token): "
GIVEN_TOKEN = "a-token-the-operator-chose"
REFUSALS = [
    ({}, "control token required: send it in the X-QTC-Control-Token header"),
    ({CONTROL_TOKEN_HEADER: "not-the-token-at-all"}, "control token is wrong"),
    ({CONTROL_TOKEN_HEADER: ""}, "control token required"),
    ({CONTROL_TOKEN_HEADER: "é" * 40}, "control token is wrong"),
]


def _refused(reply: requests.Response, message: str) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["code"] == 40110000
    assert reply.json()["message"].startswith(message)


@pytest.mark.parametrize(("headers", "message"), REFUSALS)
def test_without_the_token_every_control_is_refused_and_changes_nothing(
    harness: Harness, headers: dict[str, str], message: str
) -> None:
    url = harness.base_url
    order = harness.trading.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side="buy", time_in_force="day", limit_price=1)
    )
    attempts = [
        ("POST", "/qtc/faults", {"http_429": 3}),
        ("DELETE", "/qtc/faults", None),
        ("GET", "/qtc/faults", None),
        ("POST", "/qtc/advance", {"minutes": 5}),
        ("GET", "/qtc/time", None),
        ("GET", "/qtc/stats", None),
        ("DELETE", "/qtc/stats", None),
        ("GET", "/qtc/executions", None),
        ("POST", f"/qtc/orders/{order.id}/status", {"status": "held"}),
    ]
    for method, path, body in attempts:
        reply = requests.request(method, url + path, json=body, headers=headers, timeout=10)
        _refused(reply, message)
    assert harness.control("GET", "/qtc/faults").json()["http_429"] == 0
    assert harness.control("GET", "/qtc/time").json()["now"] == "2025-03-04T15:00:00Z"
    assert harness.trading.get_order_by_id(order.id).status == "new"
    assert harness.trading.get_account().status == "ACTIVE"  # no 429 was installed


def test_with_the_token_the_controls_work(harness: Harness) -> None:
    assert harness.faults(http_429=1).json()["http_429"] == 1
    account = requests.get(
        f"{harness.base_url}/v2/account", headers=harness.auth_headers(), timeout=10
    )
    assert account.status_code == 429
    assert harness.advance(2) == {"now": "2025-03-04T15:02:00Z", "minutes": 2}


def test_open_controls_need_no_token(calendar: MarketCalendar) -> None:
    config = ExchangeConfig(
        clock="manual", start=START, api_key=KEY, api_secret=SECRET, control_token=None
    )
    opened = build_local_exchange(config, calendar=calendar)
    assert opened.control_headers == {}
    with ServerThread(opened.app) as server:
        reply = requests.post(f"{server.base_url}/qtc/faults", json={"http_5xx": 1}, timeout=10)
        assert reply.status_code == 200 and reply.json()["http_5xx"] == 1
        account = requests.get(
            f"{server.base_url}/v2/account",
            headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
            timeout=10,
        )
        assert account.status_code == 500


def test_each_in_process_exchange_gets_its_own_random_token(calendar: MarketCalendar) -> None:
    tokens = {
        build_local_exchange(
            ExchangeConfig(clock="manual", start=START), calendar=calendar
        ).control_token
        for _ in range(2)
    }
    assert len(tokens) == 2 and all(t is not None and len(t) >= 40 for t in tokens)


@dataclass
class Started:
    process: subprocess.Popen[str]
    stdout: list[str]  # the lines printed before serving

    @property
    def url(self) -> str:
        return self.stdout[0].rsplit(" ", 1)[1].strip()

    def stop(self) -> tuple[str, str]:
        """Stop the process (by its pid) and return the rest of its stdout and its stderr."""
        self.process.terminate()
        try:
            out, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate(timeout=10)
        return out, err


StartCli = Callable[..., Started]


@pytest.fixture
def start_cli() -> Iterator[StartCli]:
    """Start `qtc exchange` (flags added to a manual-clock base) and wait until it serves."""
    started: list[Started] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> Started:
        command = [sys.executable, "-m", "qtc", "exchange", "--port", "0", "--clock", "manual"]
        command += ["--start", START.isoformat(), "--symbols", *SYMBOLS, *flags]
        environment = {k: v for k, v in os.environ.items() if k != "QTC_CONTROL_TOKEN"}
        environment.update(env or {}, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("QTC exchange base URL: "), lines
        if "--open-control" not in flags:
            lines.append(process.stdout.readline())
        run = Started(process, lines)
        started.append(run)

        def serving() -> bool:
            try:
                requests.get(run.url + "/v2/clock", timeout=1)
            except requests.ConnectionError:
                return False
            return True

        wait_until(serving, 30, "qtc exchange to serve")
        return run

    yield start
    for run in started:
        if run.process.poll() is None:
            run.stop()


def test_the_cli_prints_its_token_once_on_stdout_and_never_logs_it(start_cli: StartCli) -> None:
    run = start_cli()
    assert run.stdout[3].startswith(TOKEN_PREFIX), run.stdout
    token = run.stdout[3][len(TOKEN_PREFIX) :].strip()
    assert len(token) >= 40
    _refused(requests.get(run.url + "/qtc/time", timeout=10), "control token required")
    reply = requests.get(run.url + "/qtc/time", headers={CONTROL_TOKEN_HEADER: token}, timeout=10)
    assert reply.json() == {"now": "2025-03-04T15:00:00Z", "manual": True}
    rest, stderr = run.stop()
    assert token not in rest and token not in stderr
    assert "".join(run.stdout).count(token) == 1


def test_the_cli_takes_a_known_token_from_the_environment(start_cli: StartCli) -> None:
    run = start_cli(env={"QTC_CONTROL_TOKEN": GIVEN_TOKEN})
    assert GIVEN_TOKEN not in "".join(run.stdout)
    assert run.stdout[3].startswith("QTC exchange control token: the one given"), run.stdout
    moved = requests.post(
        run.url + "/qtc/advance",
        json={"minutes": 1},
        headers={CONTROL_TOKEN_HEADER: GIVEN_TOKEN},
        timeout=10,
    )
    assert moved.json() == {"now": "2025-03-04T15:01:00Z", "minutes": 1}
    refused = requests.post(run.url + "/qtc/advance", json={"minutes": 1}, timeout=10)
    _refused(refused, "control token required")
    _, stderr = run.stop()
    assert GIVEN_TOKEN not in stderr


def test_the_cli_takes_a_known_token_from_the_flag(start_cli: StartCli) -> None:
    run = start_cli("--control-token", GIVEN_TOKEN)
    headers = {CONTROL_TOKEN_HEADER: GIVEN_TOKEN}
    assert requests.get(run.url + "/qtc/stats", headers=headers, timeout=10).status_code == 200
    wrong = requests.get(
        run.url + "/qtc/stats", headers={CONTROL_TOKEN_HEADER: "x" * 30}, timeout=10
    )
    _refused(wrong, "control token is wrong")


def test_open_control_serves_without_a_token_and_warns(start_cli: StartCli) -> None:
    run = start_cli("--open-control")
    assert not any(line.startswith("QTC exchange control token") for line in run.stdout)
    reply = requests.post(run.url + "/qtc/faults", json={"latency_ms": 5}, timeout=10)
    assert reply.status_code == 200 and reply.json()["latency_ms"] == 5
    _, stderr = run.stop()
    warnings = [line for line in stderr.splitlines() if "WARNING" in line]
    assert any("/qtc/* are open to anyone" in line for line in warnings), stderr
