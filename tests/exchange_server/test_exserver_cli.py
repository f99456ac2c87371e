"""`qtc exchange` as a user runs it: a subprocess printing its URLs and serving alpaca-py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import MarketOrderRequest

from qtc.exchange.server.control_token import control_headers

from .conftest import wait_until

TOKEN_PREFIX = "QTC exchange control token (send as X-QTC-Control-Token): "


@pytest.fixture
def exchange_process() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """`qtc exchange` with a generated control token: (process, base URL, the token it printed)."""
    command = [
        sys.executable,
        "-m",
        "qtc",
        "exchange",
        "--port",
        "0",
        "--clock",
        "manual",
        "--start",
        "2025-03-04T15:00:00Z",
        "--symbols",
        "AAPL",
        "BTC/USD",
        "--key",
        "cli-key",
        "--secret",
        "cli-secret",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        first, second, _, fourth = (process.stdout.readline() for _ in range(4))
        assert first.startswith("QTC exchange base URL: http://127.0.0.1:"), first
        assert second.startswith("QTC exchange stream URL: ws://127.0.0.1:"), second
        assert fourth.startswith(TOKEN_PREFIX), fourth
        yield process, first.rsplit(" ", 1)[1].strip(), fourth[len(TOKEN_PREFIX) :].strip()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_cli_serves_alpaca_py_in_manual_mode(
    exchange_process: tuple[subprocess.Popen[str], str, str],
) -> None:
    _, base_url, token = exchange_process
    control = control_headers(token)

    def ready() -> bool:
        try:
            return requests.get(f"{base_url}/qtc/time", headers=control, timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until(ready, what="the exchange to serve")
    client = TradingClient("cli-key", "cli-secret", paper=True, url_override=base_url)
    order = client.submit_order(
        MarketOrderRequest(symbol="BTC/USD", qty=0.001, side="buy", time_in_force="gtc")
    )
    assert order.status == "filled"
    moved = requests.post(
        f"{base_url}/qtc/advance", json={"minutes": 2}, headers=control, timeout=10
    ).json()
    assert moved == {"now": "2025-03-04T15:02:00Z", "minutes": 2}
    executions = requests.get(f"{base_url}/qtc/executions", headers=control, timeout=10)
    assert executions.json()["count"] == 1
