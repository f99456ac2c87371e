"""`qtc exchange` and `qtc run` as subprocesses, started the way a user starts them, and the
ways the end-to-end test reads what they did (admin endpoints, team files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.files import jsonl_lines as read_lines
from tests.support.processes import Processes  # shared by this folder's tests
from tests.support.waiting import wait_until

from qtc.domain.fills import Fill
from qtc.exchange.server.control_token import control_headers
from qtc.store.records import TradeRecord

KEY, SECRET = "e2e-key", "e2e-secret"
ALPACA_HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
STRATEGIES = Path(__file__).parent / "strategies"
URL_PREFIX = "QTC exchange base URL: "
TOKEN_PREFIX = "QTC exchange control token (send as X-QTC-Control-Token): "


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any QTC_/ALPACA_ setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QTC_", "ALPACA_", "APCA_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def processes() -> Iterator[Processes]:
    with Processes() as group:
        yield group


class Exchange:
    """A running `qtc exchange --clock manual` and its admin controls (`/qtc/*`, with the
    control token it printed)."""

    def __init__(
        self, process: subprocess.Popen[bytes], url: str, start: datetime, token: str
    ) -> None:
        self.process = process
        self.url = url
        self.stream_url = url.replace("http://", "ws://") + "/stream"
        self.start = start
        self.admin = httpx.Client(base_url=url, headers=control_headers(token), timeout=30)

    def _json(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def advance(self, minutes: int = 1) -> None:
        """Complete `minutes` minutes (their fills are on the stream before this returns)."""
        self._json(self.admin.post("/qtc/advance", json={"minutes": minutes}))

    def now(self) -> datetime:
        raw = self._json(self.admin.get("/qtc/time"))["now"]
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))

    def minute(self) -> int:
        """Whole minutes the exchange's clock has moved since the start."""
        return int((self.now() - self.start) / timedelta(minutes=1))

    def faults(self, **switches: Any) -> dict[str, Any]:
        if switches:
            return dict(self._json(self.admin.post("/qtc/faults", json=switches)))
        return dict(self._json(self.admin.get("/qtc/faults")))

    def stats(self) -> dict[str, Any]:
        return dict(self._json(self.admin.get("/qtc/stats")))

    def executions(self, prefix: str = "") -> list[dict[str, Any]]:
        body = self._json(
            self.admin.get("/qtc/executions", params={"client_order_id_prefix": prefix})
        )
        return list(body["executions"])

    def run_env(self, **extra: str) -> dict[str, str]:
        """The environment of a `qtc run` on the Alpaca adapter against this exchange."""
        return clean_env(
            ALPACA_API_KEY=KEY,
            ALPACA_API_SECRET=SECRET,
            ALPACA_BASE_URL=self.url,
            ALPACA_STREAM_URL=self.stream_url,
            **extra,
        )

    def alpaca_get(self, path: str) -> Any:
        """An Alpaca REST read with the account's key (counts in the exchange's stats)."""
        return self._json(self.admin.get(path, headers=ALPACA_HEADERS))

    def cancel_an_open_order(self) -> str | None:
        """Cancel the oldest open order at the exchange itself, as Alpaca may (its client
        order id; None when nothing is open)."""
        open_orders = self.alpaca_get("/v2/orders?status=open&direction=asc")
        if not open_orders:
            return None
        order = open_orders[0]
        self.admin.delete(f"/v2/orders/{order['id']}", headers=ALPACA_HEADERS).raise_for_status()
        return str(order["client_order_id"])


def start_exchange(
    processes: Processes, folder: Path, *, seed: int, start: datetime, symbols: list[str]
) -> Exchange:
    """Start `qtc exchange` on a free port and wait until it answers; its control token is the
    one it prints."""
    out = folder / "exchange.out"
    command = [
        sys.executable,
        "-m",
        "qtc",
        "exchange",
        "--port",
        "0",
        "--clock",
        "manual",
        "--seed",
        str(seed),
        "--start",
        start.isoformat(),
        "--symbols",
        *symbols,
        "--key",
        KEY,
        "--secret",
        SECRET,
        "--buying-power",
        "100000000",
    ]
    process = processes.start(command, out, clean_env())

    def printed(prefix: str) -> str | None:
        assert process.poll() is None, f"qtc exchange exited:\n{out.read_text()}"
        for line in out.read_text().splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None

    base = wait_until(lambda: printed(URL_PREFIX), 30, "qtc exchange to print its URL")
    token = wait_until(lambda: printed(TOKEN_PREFIX), 30, "qtc exchange to print its token")
    exchange = Exchange(process, base, start, token)

    def answers() -> bool:
        try:
            return exchange.admin.get("/qtc/time").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, 30, "qtc exchange to answer")
    return exchange


def issue_key(team_id: str, data_dir: Path) -> str:
    """A new API key for the team, issued with `qtc teams key` (printed once, stored hashed)."""
    issued = subprocess.run(
        [sys.executable, "-m", "qtc", "teams", "key", team_id, "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, env=clean_env(),
    )  # fmt: skip
    return issued.stdout.split()[0]


def ledger(data_dir: Path, team_id: str) -> list[dict[str, Any]]:
    return read_lines(data_dir / "team" / team_id / "trades.jsonl")


def ledger_fills(data_dir: Path, team_id: str) -> list[Fill]:
    return [TradeRecord.from_json(row).to_fill() for row in ledger(data_dir, team_id)]


def last_snapshot(data_dir: Path, team_id: str) -> dict[str, Any]:
    folder = data_dir / "team" / team_id / "portfolio"
    rows = [row for path in sorted(folder.glob("*.jsonl")) for row in read_lines(path)]
    assert rows, f"no portfolio snapshot for {team_id}"
    return rows[-1]


def per_order(rows: list[dict[str, Any]], qty: str, price: str) -> dict[str, list[Decimal]]:
    """order id -> [total quantity, total notional] over execution-like rows."""
    totals: dict[str, list[Decimal]] = {}
    for row in rows:
        order_id = row["order_id"] if "execution_price" in row else row["client_order_id"]
        q, p = Decimal(row[qty]), Decimal(row[price])
        total = totals.setdefault(order_id, [Decimal(0), Decimal(0)])
        total[0] += q
        total[1] += q * p
    return totals


def next_minute(data_dir: Path, start: datetime) -> int | None:
    """The run's progress: the index (from `start`) of the next minute it will process."""
    try:
        raw = json.loads((data_dir / "run_state.json").read_text())["next_minute"]
    except (OSError, ValueError, KeyError):
        return None
    return int((datetime.fromisoformat(raw).astimezone(UTC) - start) / timedelta(minutes=1))
