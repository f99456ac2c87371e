"""The organisers' two client scripts, unchanged, against a live `qtc run` on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# the organisers' scripts, kept unchanged in the repository (QTC_CLIENTS_DIR: another copy)
CLIENTS = Path(os.environ.get("QTC_CLIENTS_DIR", REPO / "tests" / "clients"))
QTC = Path(sys.executable).with_name("qtc")
STRATEGY = Path(__file__).parent / "strategies" / "gtc_orders"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _clients_can_run() -> None:
    """Never a silent skip: without the scripts or their tools, the test fails and says why."""
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    assert not missing, f"list_open_orders.sh needs {missing} (apt-get install -y curl jq)"
    assert (CLIENTS / "list_open_orders.sh").is_file(), f"client scripts not in {CLIENTS}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    """`wait_until`, with an API that is not answering yet counted as "not yet"."""

    def answered() -> Any:
        try:
            return condition()
        except httpx.HTTPError:
            return None

    return wait_until(answered, seconds, what)


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[tuple[str, str, Path, subprocess.Popen[str]]]:
    issued = subprocess.run(
        [str(QTC), "teams", "key", "epsilon", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    key = issued.stdout.split()[0]
    port = _free_port()
    env = dict(os.environ, QTC_PARTICIPATION="0.0001")  # SPY fills ~14 shares a minute
    process = subprocess.Popen(
        [
            str(QTC), "run",
            "--teams", f"epsilon;{STRATEGY};strategy:Strategy;1000000",
            "--data-dir", str(tmp_path), "--log-file", str(tmp_path / "qtc.log"),
            "--api-port", str(port), "--symbols", "SPY", "AAPL",
            "--start", "2025-11-19T17:00:00Z", "--speed", "120", "--duration", "600",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", key, tmp_path, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _client(script: str, base_url: str, key: str) -> str:
    env = dict(os.environ, BASE_URL=base_url, API_KEY=key, TEAM_ID="epsilon")
    command = ["bash", script] if script.endswith(".sh") else [sys.executable, script]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_original_clients_against_a_live_run(
    live_run: tuple[str, str, Path, subprocess.Popen[str]],
) -> None:
    base_url, key, data_dir, process = live_run
    api = httpx.Client(base_url=base_url, params={"key": key}, timeout=5)

    def partly_filled() -> list[dict[str, Any]] | None:
        orders = api.get("/api/v1/team/epsilon/orders/open").json()["orders"]
        spy = [o for o in orders if o["symbol"] == "SPY"]
        return orders if len(orders) == 3 and spy and Decimal(spy[0]["filled_qty"]) > 0 else None

    orders = _wait(partly_filled, "three open orders, the SPY one partly filled")
    gtc = {o["order_id"] for o in orders if o["time_in_force"] == "gtc"}
    (day,) = [o["order_id"] for o in orders if o["time_in_force"] == "day"]

    listed = _client(str(CLIENTS / "list_open_orders.sh"), base_url, key)
    assert "Open orders:" in listed and '"symbol": "SPY"' in listed
    assert "Order details:" in listed and '"order_id":' in listed

    canceled = _client(str(CLIENTS / "cancel_gtc_orders.py"), base_url, key)
    assert canceled.count("Cancelled ") == 2
    assert "Cancelled SPY order:" in canceled and "Cancelled AAPL order:" in canceled
    assert "'success': True" in canceled

    def final(order_id: str) -> dict[str, Any] | None:
        order = api.get(f"/api/v1/team/epsilon/orders/{order_id}").json()
        return order if order["status"] == "canceled" else None

    ended = [_wait(functools.partial(final, oid), f"{oid} canceled") for oid in gtc]
    assert api.get(f"/api/v1/team/epsilon/orders/{day}").json()["status"] == "new"
    spy = next(o for o in ended if o["symbol"] == "SPY")
    assert 0 < Decimal(spy["filled_qty"]) < 1000

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    trades = [
        json.loads(line)
        for line in (data_dir / "team" / "epsilon" / "trades.jsonl").read_text().splitlines()
    ]
    booked = sum(Decimal(t["quantity"]) for t in trades if t["order_id"] == spy["order_id"])
    assert booked == Decimal(spy["filled_qty"])  # the partial fill stays in the ledger
    history = {
        json.loads(line)["order_id"]: json.loads(line)
        for line in (data_dir / "team" / "epsilon" / "orders.jsonl").read_text().splitlines()
    }
    assert history[spy["order_id"]]["status"] == "canceled"
    assert Decimal(history[spy["order_id"]]["filled_qty"]) == booked
