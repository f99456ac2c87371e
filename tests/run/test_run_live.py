"""A live run (Alpaca, real clock) restarted hours later trades only the present minute: the
missed minutes are logged once as skipped and shown in /api/v1/status."""

from __future__ import annotations

import json
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.support.files import jsonl_lines
from tests.support.processes import Processes

from .conftest import clean_env, wait_until

STRATEGY = Path(__file__).parent / "strategies" / "minutes"
KEY, SECRET = "live-key", "live-secret"
URL_PREFIX = "QTC exchange base URL: "


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_live_restart_skips_the_missed_minutes_and_trades_only_the_present(
    tmp_path: Path,
) -> None:
    with Processes() as started:
        out = tmp_path / "exchange.out"
        command = [sys.executable, "-m", "qtc", "exchange", "--port", "0", "--clock", "real"]
        command += ["--symbols", "BTC/USD", "ETH/USD", "--key", KEY, "--secret", SECRET]
        command += ["--buying-power", "100000000"]
        exchange = started.start(command, out, clean_env())

        def url() -> str | None:
            assert exchange.poll() is None, out.read_text()
            for line in out.read_text().splitlines():
                if line.startswith(URL_PREFIX):
                    return line[len(URL_PREFIX) :].strip()
            return None

        base = wait_until(url, 30, "qtc exchange to print its URL")
        data, log = tmp_path / "data", tmp_path / "qtc.log"
        data.mkdir()
        # the last run stopped three hours ago
        restart = datetime.now(UTC).replace(second=0, microsecond=0)
        gap_start = restart - timedelta(minutes=180)
        (data / "run_state.json").write_text(json.dumps({"next_minute": gap_start.isoformat()}))
        port = _free_port()
        env = clean_env(
            ALPACA_API_KEY=KEY,
            ALPACA_API_SECRET=SECRET,
            ALPACA_BASE_URL=base,
            ALPACA_STREAM_URL=base.replace("http://", "ws://") + "/stream",
            ALPACA_DATA_URL=base,
        )
        command = [sys.executable, "-m", "qtc", "run", "--market", "alpaca"]
        command += ["--symbols", "BTC/USD", "ETH/USD", "--data-dir", str(data)]
        command += ["--teams", f"alpha;{STRATEGY};strategy:Strategy;100000"]
        command += ["--log-file", str(log), "--api-port", str(port), "--duration", "2"]
        run = started.start(command, tmp_path / "run.out", env)

        def skipped_logged() -> bool:
            assert run.poll() is None, (tmp_path / "run.out").read_text()
            return log.exists() and "Skipped" in log.read_text()

        wait_until(skipped_logged, 60, "the run to log the skipped minutes")

        def status() -> dict[str, object] | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=5)
            except httpx.TransportError:
                return None
            return dict(answer.json()) if answer.status_code == 200 else None

        body = wait_until(status, 30, "the API to answer")
        gap_end = datetime.fromisoformat(str(body["skipped_last"]))
        # 180 minutes, or 181 when the run got going just after the next minute began
        assert gap_end in (restart - timedelta(minutes=1), restart)
        count = int((gap_end - gap_start) / timedelta(minutes=1)) + 1
        assert body["skipped_minutes"] == count
        assert body["skipped_first"] == gap_start.isoformat()
        skipped = [line for line in log.read_text().splitlines() if "Skipped" in line]
        assert len(skipped) == 1
        # a gap across midnight names its days
        shape = "%H:%M" if gap_start.date() == gap_end.date() else "%Y-%m-%d %H:%M"
        assert (
            f"Skipped {count} missed minutes ({gap_start:{shape}} to {gap_end:{shape}} UTC): "
            "a live run never trades a past minute"
        ) in skipped[0]
        assert body["degraded"] is False and body["degraded_reason"] is None

        orders = data / "team" / "alpha" / "orders.jsonl"
        wait_until(lambda: jsonl_lines(orders), 150, "an order for a present minute")
        run.wait(150)
        assert run.returncode == 0
        for order in jsonl_lines(orders):
            created = datetime.fromisoformat(str(order["created_at"]))
            assert created >= restart, order
            extra = order["extra"]
            assert isinstance(extra, dict)
            seen = datetime.fromisoformat(str(extra["reason"]).removeprefix("bar "))
            assert seen >= restart - timedelta(minutes=1), order
        assert len(jsonl_lines(orders)) <= 2
