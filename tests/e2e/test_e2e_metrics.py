"""`/metrics`, `/healthz` and `/readyz` of a real `qtc run` on the Alpaca adapter against
`qtc exchange`, driven through a reconcile, a fill, a strategy timeout and a broker 429, and
then through the loss of the broker."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import STRATEGIES, Processes, issue_key, start_exchange, wait_until

START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday: the stock market is open
SERIES = (
    "qtc_minutes_processed_total",
    "qtc_minute_duration_seconds",
    "qtc_last_minute_timestamp_seconds",
    "qtc_strategy_call_seconds",
    "qtc_strategy_timeouts_total",
    "qtc_orders",
    "qtc_fills_total",
    "qtc_reconcile_cycles_total",
    "qtc_reconcile_duration_seconds",
    "qtc_reconcile_lag_seconds",
    "qtc_reconcile_last_success_timestamp_seconds",
    "qtc_broker_requests_total",
    "qtc_stream_connected",
    "qtc_stream_reconnects_total",
    "qtc_ledger_append_seconds",
    "qtc_open_orders",
    "qtc_sse_subscribers",
    "qtc_data_dir_free_bytes",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(api: httpx.Client) -> Samples | None:
    """Every sample of /metrics, by name and labels; None while the API does not answer."""
    try:
        response = api.get("/metrics")
    except httpx.TransportError:
        return None
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), float("nan"))


def test_metrics_and_health_of_a_run_through_a_fill_a_timeout_and_a_429(
    tmp_path: Path, processes: Processes
) -> None:
    exchange = start_exchange(processes, tmp_path, seed=3, start=START, symbols=["BTC/USD"])
    data = tmp_path / "data"
    team_key = issue_key("buyer", data)
    port = _free_port()
    began = datetime.now(UTC).timestamp()
    run = processes.start(
        [
            sys.executable, "-m", "qtc", "run",
            "--teams", f"buyer;{STRATEGIES / 'steady_buyer'};strategy:Strategy;100000",
            "--teams", f"slow;{STRATEGIES / 'sleeper'};strategy:Strategy;100000",
            "--market", "simulated", "--symbols", "BTC/USD", "--start", START.isoformat(),
            "--speed", "400", "--duration", "5000", "--reconcile-interval", "1",
            "--strategy-timeout", "0.5", "--data-dir", str(data), "--api-port", str(port),
            "--log-file", str(tmp_path / "run.log"),
        ],
        tmp_path / "run.out",
        exchange.run_env(),
    )  # fmt: skip
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def serving() -> Samples | None:
        assert run.poll() is None, (tmp_path / "run.out").read_text()[-3000:]
        return scrape(api)

    wait_until(serving, 60, "the run's /metrics")

    def filled() -> bool:
        samples = serving()
        if samples is not None and value(samples, "qtc_fills_total") >= 1:
            return True
        exchange.advance(1)  # the buyer's market order fills at the exchange's next minute
        return False

    wait_until(filled, 30, "a fill booked")
    exchange.faults(http_429=2)

    def answered_429() -> Samples | None:
        samples = serving()
        if samples is None or value(samples, "qtc_broker_requests_total", status="429") < 1:
            return None
        return samples if value(samples, "qtc_strategy_timeouts_total", team="slow") >= 1 else None

    wait_until(answered_429, 30, "a 429 from the broker and a strategy timeout")

    with api.stream("GET", "/api/v1/team/buyer/orders/stream", params={"key": team_key}) as sse:
        chunks = sse.iter_raw()  # held: a dropped iterator closes the stream
        assert b"connected" in next(chunks)
        samples = scrape(api)
    assert samples is not None
    names = {name for name, _ in samples}
    missing = [s for s in SERIES if not any(n.startswith(s) for n in names)]
    assert not missing, missing
    assert value(samples, "qtc_sse_subscribers") == 1

    now = datetime.now(UTC).timestamp()
    assert value(samples, "qtc_minutes_processed_total") >= 1
    assert value(samples, "qtc_minute_duration_seconds_count") >= 1
    assert began < value(samples, "qtc_last_minute_timestamp_seconds") <= now
    assert value(samples, "qtc_strategy_call_seconds_count", team="buyer") >= 1
    assert value(samples, "qtc_strategy_timeouts_total", team="slow") >= 1
    assert value(samples, "qtc_strategy_timeouts_total", team="buyer") == 0
    assert value(samples, "qtc_fills_total") >= 1
    assert value(samples, "qtc_ledger_append_seconds_count") == value(samples, "qtc_fills_total")
    assert value(samples, "qtc_orders", status="filled") >= 1
    assert value(samples, "qtc_open_orders") >= 0
    assert value(samples, "qtc_reconcile_cycles_total") >= 2  # the startup one, then the loop's
    assert value(samples, "qtc_reconcile_duration_seconds_count") >= 2
    assert began < value(samples, "qtc_reconcile_last_success_timestamp_seconds") <= now
    assert 0 <= value(samples, "qtc_reconcile_lag_seconds") < 30
    assert value(samples, "qtc_broker_requests_total", status="2xx") >= 3
    assert value(samples, "qtc_broker_requests_total", status="429") >= 1
    assert value(samples, "qtc_broker_requests_total", status="5xx") == 0
    assert value(samples, "qtc_stream_connected") == 1
    assert value(samples, "qtc_stream_reconnects_total") == 0
    assert value(samples, "qtc_data_dir_free_bytes") > 0

    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True and ready.json()["failed"] == []
    assert set(ready.json()["checks"]) == {"broker", "stream", "minutes"}

    # the broker goes away: not ready, and the body says why; the process is still up
    exchange.process.terminate()
    exchange.process.wait(10)

    def not_ready() -> dict[str, object] | None:
        response = api.get("/readyz")
        return response.json() if response.status_code == 503 else None

    body = wait_until(not_ready, 30, "/readyz to answer 503")
    assert "broker" in body["failed"], body
    assert api.get("/healthz").status_code == 200
    gone = scrape(api)
    assert gone is not None and value(gone, "qtc_broker_requests_total", status="error") >= 1
    run.kill()  # it would retry the broker for a while; nothing more to see
    run.wait(10)
