"""`qtc serve` shows a competition from its files, alongside the run and after it: the same
answers as the run's API, read-only (cancel 409), keyed (401), and it writes nothing."""

from __future__ import annotations

import json
import os
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.processes import Processes

from .conftest import clean_env, wait_until
from .month_end import (
    QTC,
    QUIET_FROM,
    RUN_START,
    TEAMS,
    concatenated,
    free_port,
    issue_key,
    next_minute,
    records,
    run_command,
)

_ROW = re.compile(r"│\s*(\d+)\s*│\s*(\w+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*([\d.]+)\s*│"
                  r"\s*([\d.]+)\s*│\s*(-?[\d.]+)\s*│")  # fmt: skip


def _listing(data: Path) -> dict[str, tuple[int, int]]:
    """Every path under the data directory with its size and mtime."""
    out = {}
    for folder, dirs, files in os.walk(data):
        for name in [*dirs, *files]:
            st = os.stat(os.path.join(folder, name), follow_symlinks=False)
            out[os.path.relpath(os.path.join(folder, name), data)] = (st.st_size, st.st_mtime_ns)
    return out


def _closed_orders(api: httpx.Client, team_id: str) -> dict[str, dict[str, Any]]:
    page = api.get(f"/api/v1/team/{team_id}/orders", params={"status": "closed", "limit": 1000})
    assert page.status_code == 200, page.text
    return {o["order_id"]: o for o in page.json()["orders"]}


def _answers(base: str, key: str, path: str, **params: Any) -> Any:
    answer = httpx.get(base + path, params={"key": key, **params}, timeout=5)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


@pytest.mark.slow
def test_serve_answers_from_the_files_during_and_after_a_run_and_writes_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    keys = {team_id: issue_key(data, team_id) for team_id in TEAMS}
    run_port, serve_port = free_port(), free_port()
    run_api, served = f"http://127.0.0.1:{run_port}", f"http://127.0.0.1:{serve_port}"
    command = run_command(data, "--start", RUN_START.isoformat(), "--duration", "30")
    command += ["--speed", "600", "--api-port", str(run_port)]
    with Processes() as started:
        run = started.start(command, tmp_path / "run.out", clean_env())
        wait_until(lambda: next_minute(data) is not None, 60, "the run's first minute")
        serve = started.start(
            [*QTC, "serve", "--data-dir", str(data), "--api-port", str(serve_port)],
            tmp_path / "serve.out",
            clean_env(),
        )

        def status() -> Any:
            assert serve.poll() is None, (tmp_path / "serve.out").read_text()
            try:
                return httpx.get(served + "/api/v1/status", timeout=5).json()
            except httpx.HTTPError:
                return None

        during = wait_until(status, 30, "qtc serve to answer")
        assert during["running"] is True and during["read_only"] is True

        def quiet() -> bool:
            assert run.poll() is None, (tmp_path / "run.out").read_text()[-2000:]
            at = next_minute(data)
            return at is not None and at >= QUIET_FROM

        wait_until(quiet, 120, "the strategies to stop trading")
        seen_by_run = {}
        for team_id in TEAMS:
            api = httpx.Client(base_url=run_api, params={"key": keys[team_id]}, timeout=5)
            seen_by_run[team_id] = _closed_orders(api, team_id)
            assert len(seen_by_run[team_id]) > 20
            # the files changed since serve's first answer: it follows them
            shown = _closed_orders(httpx.Client(base_url=served, params=api.params), team_id)
            assert all(shown[i] == o for i, o in seen_by_run[team_id].items() if i in shown)
        assert run.wait(120) == 0, (tmp_path / "run.out").read_text()[-2000:]
        summary = {m[1]: m for m in _ROW.findall((tmp_path / "run.out").read_text())}

        before = _listing(data)
        board = {r["team_id"]: r for r in httpx.get(served + "/leaderboard").json()["teams"]}
        for team_id in TEAMS:
            key = keys[team_id]
            api = httpx.Client(base_url=served, params={"key": key}, timeout=5)
            closed = _closed_orders(api, team_id)
            for order_id, order in seen_by_run[team_id].items():
                assert closed[order_id] == order, "the run's API and serve differ"
            team_dir = data / "team" / team_id
            ledger = records(concatenated(team_dir, "trades", "trades.jsonl"))
            trades = _answers(served, key, f"/api/v1/team/{team_id}/trades", limit=1000)
            assert trades["trades"] == list(reversed(ledger))
            segment = team_dir / "segments" / "trades" / "2025-11.jsonl"
            november = records(segment.read_bytes().splitlines())
            assert november and all(t["timestamp"] < "2025-12" for t in november)
            for fill in november:  # in the closed November segment: found by order
                path = f"/api/v1/team/{team_id}/trades"
                of_order = _answers(served, key, path, order_id=fill["order_id"])["trades"]
                assert fill in of_order
            errors = _answers(served, key, f"/api/v1/team/{team_id}/errors", limit=1000)
            assert errors["count"] == len(concatenated(team_dir, "errors", "errors.jsonl")) > 0

            days = sorted((team_dir / "portfolio").glob("*.jsonl"))
            snapshot = json.loads(days[-1].read_text().splitlines()[-1])
            book = _answers(served, key, f"/api/v1/team/{team_id}/portfolio")
            # the API shows money to the cent; the snapshot keeps the exact value
            assert Decimal(book["cash"]) == _cents(snapshot["cash"])
            assert Decimal(book["equity"]) == _cents(snapshot["equity"])
            assert book["market_value"] == book["equity"]  # the old name, kept for one release
            assert Decimal(book["initial_cash"]) == Decimal("1000000")
            for position in book["positions"]:
                assert Decimal(position["price"]) == _cents(snapshot["prices"][position["symbol"]])
                held = snapshot["positions"][position["symbol"]]["quantity"]
                assert Decimal(position["quantity"]) == Decimal(held)

            rank, _, orders, fills, open_count, cash, value, pct = summary[team_id]
            row = board[team_id]
            assert (str(row["rank"]), str(row["fills"]), str(row["open_orders"])) == (
                rank,
                fills,
                open_count,
            )
            assert (row["cash"], row["equity"], row["return_pct"]) == (cash, value, pct)
            assert str(row["orders"]) == orders

            open_orders = _answers(served, key, f"/api/v1/team/{team_id}/orders/open")["orders"]
            assert open_orders, "resting orders stay open at the end"
            cancel = api.delete(f"/api/v1/team/{team_id}/orders/{open_orders[0]['order_id']}")
            assert cancel.status_code == 409
            assert cancel.json()["detail"] == "this server is read-only: orders cannot be canceled"
            first_closed = next(iter(closed))
            assert api.delete(f"/api/v1/team/{team_id}/orders/{first_closed}").status_code == 409
            wrong = httpx.get(
                f"{served}/api/v1/team/{team_id}/orders/open", params={"key": "wrong"}
            )
            assert wrong.status_code == 401
            other = keys[TEAMS[0] if team_id != TEAMS[0] else TEAMS[1]]
            assert (
                httpx.get(f"{served}/api/v1/team/{team_id}/trades?key={other}").status_code == 403
            )
        after_status = httpx.get(served + "/api/v1/status").json()
        assert after_status["running"] is False and after_status["open_orders"] > 0
        assert _listing(data) == before, "qtc serve wrote in the data directory"
    assert "Traceback" not in (tmp_path / "serve.out").read_text()


def _cents(raw: str) -> Decimal:
    return Decimal(raw).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
