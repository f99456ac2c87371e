"""Strategies changed while `qtc run` runs: uploads through the real API (refused ones change
nothing), the swap at a minute boundary, rollback, and kills mid-upload and mid-swap."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.processes import Processes

from qtc.crashpoints import CRASH_EXIT
from qtc.store.strategy_versions import content_hash

from .conftest import MIDDAY, clean_env, wait_until
from .month_end import QTC, free_port, issue_key

# Each minute: one market buy whose reason names the bar it saw and whose size names the
# version; and one resting limit order far below the market, placed once, kept open.
V1 = """
QTY = 0.001


class Strategy:
    def __init__(self, **params):
        self.params = params

    def generate_signal(self, team, bars, current_prices):
        if "BTC/USD" not in bars:
            return None
        price = float(current_prices["BTC/USD"])
        out = [{"symbol": "BTC/USD", "action": "buy", "quantity": QTY, "price": price,
                "time_in_force": "gtc", "reason": "bar " + bars["BTC/USD"]["timestamp"][-1]}]
        if not any(o["order_type"] == "limit" for o in team["open_orders"]):
            out.append({"symbol": "BTC/USD", "action": "buy", "quantity": 0.001,
                        "price": round(price * 0.5, 2), "order_type": "limit",
                        "time_in_force": "gtc", "reason": "resting"})
        return out
"""
# Version 2, as a package of two modules: the entry imports its sibling.
V2_MAIN = V1.replace("QTY = 0.001\n", "from helpers import QTY\n")
V2_HELPERS = "QTY = 0.002\n"
HANGS = "class Strategy:\n    def __init__(self, **p):\n        while True:\n            pass\n"
IMPORTS_OS = "import os\n\n\nclass Strategy:\n    pass\n"
SYNTAX = "class Strategy:\n    def generate_signal(self, team, bars, prices)\n        return None\n"


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode()


def _run(data: Path, folder: Path, port: int | None, *extra: str) -> list[str]:
    """`qtc run` of team alpha; the first run of a data directory starts at MIDDAY."""
    api = ["--api-port", str(port)] if port is not None else ["--no-api"]
    start = [] if (data / "run_state.json").exists() else ["--start", MIDDAY.isoformat()]
    return [
        *QTC, "run", "--data-dir", str(data), "--log-file", str(data.parent / "qtc.log"),
        "--teams", f"alpha;{folder};strategy:Strategy;100000", "--symbols", "BTC/USD",
        "--speed", "300", "--strategy-timeout", "5", *start, *api, *extra,
    ]  # fmt: skip


def _orders(data: Path) -> list[dict[str, Any]]:
    team = data / "team" / "alpha"
    lines = []
    for name in ("orders.jsonl", "pending_orders.jsonl"):
        if (team / name).exists():
            lines += [json.loads(x) for x in (team / name).read_text().splitlines() if x]
    return lines


def _errors(data: Path) -> list[dict[str, Any]]:
    path = data / "team" / "alpha" / "errors.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


def _swaps(data: Path) -> list[str]:
    return [e["message"] for e in _errors(data) if e["phase"] == "version"]


def _by_bar(data: Path) -> dict[str, list[int]]:
    """Each minute's market orders: the versions that sent them, by the bar they saw."""
    minutes: dict[str, list[int]] = {}
    unique = {order["order_id"]: order for order in _orders(data)}
    for order in unique.values():
        if order["order_type"] == "market":
            minutes.setdefault(order["extra"]["reason"], []).append(
                order["extra"]["strategy_version"]
            )
    return minutes


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "strategy.py").write_text(V1)
    return folder


def _stored_whole(data: Path) -> dict[int, bool]:
    """Every version folder, and whether its files hash to what its version.json says."""
    out = {}
    for folder in sorted((data / "team" / "alpha" / "strategies").glob("v*")):
        meta = json.loads((folder / "version.json").read_text())
        files = {name: (folder / name).read_bytes() for name in meta["files"]}
        out[meta["n"]] = content_hash(files) == meta["sha256"]
    return out


@pytest.mark.slow
def test_uploads_swap_at_a_minute_boundary_and_roll_back(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    key = issue_key(data, "alpha")
    env = clean_env(QTC_UPLOAD_TRIAL_TIMEOUT="2", QTC_UPLOAD_RATE_LIMIT_PER_MINUTE="100")
    with Processes() as started:
        run = started.start(
            _run(data, _folder(tmp_path), port, "--duration", "600"), tmp_path / "run.out", env
        )
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1/team/alpha",
            headers={"X-API-Key": key},
            timeout=30,
        )

        def listing() -> Any:
            assert run.poll() is None, (tmp_path / "run.out").read_text()[-3000:]
            try:
                answer = api.get("/strategy")
            except httpx.HTTPError:
                return None
            return answer.json() if answer.status_code == 200 else None

        first = wait_until(listing, 60, "the run's API")
        assert first["active"] == 1 and first["failing"] is False
        assert [v["version"] for v in first["versions"]] == [1]
        assert first["versions"][0]["uploaded_by"] == "organiser"
        wait_until(lambda: len(_by_bar(data)) >= 3, 60, "three minutes of v1")

        refused: dict[str, list[tuple[str, tuple[str, str | bytes]]]] = {
            "zip with ..": [("file", ("s.zip", _zip({"strategy.py": V1, "../up.py": "X=1"})))],
            "zip bomb": [("file", ("b.zip", _zip({"strategy.py": V1, "d.txt": "0" * 10**7})))],
            "syntax error": [("file", ("strategy.py", SYNTAX))],
            "hangs in __init__": [("file", ("strategy.py", HANGS))],
            "imports os": [("file", ("strategy.py", IMPORTS_OS))],
        }
        expected = {
            "zip with ..": "'..' in a path is refused",
            "zip bomb": "d.txt: 10000000 bytes unpacked",
            "syntax error": "strategy.py:2: syntax error",
            "hangs in __init__": "loading took longer than 2 s",
            "imports os": "strategy.py:1: import of 'os' is refused",
        }
        for name, files in refused.items():
            answer = api.post("/strategy", files=[(f, (n, _bytes(c))) for f, (n, c) in files])
            assert answer.status_code == 422, (name, answer.text)
            assert any(expected[name] in r for r in answer.json()["reasons"]), answer.json()
        assert listing()["versions"] == first["versions"] and listing()["active"] == 1
        assert sorted(p.name for p in (data / "team/alpha/strategies").iterdir()) == [
            ".lock", "active.json", "v1",
        ]  # fmt: skip

        package = [
            ("file", ("strategy.py", V2_MAIN.encode())),
            ("file", ("helpers.py", V2_HELPERS.encode())),
        ]
        answer = api.post("/strategy", files=package, data={"entry": "strategy:Strategy"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["active"] == 2
        assert answer.json()["version"]["files"] == ["helpers.py", "strategy.py"]
        wait_until(lambda: any("runs strategy v2" in m for m in _swaps(data)), 30, "the swap")
        wait_until(lambda: 2 in {v for vs in _by_bar(data).values() for v in vs}, 30, "v2 trade")

        single = api.post("/strategy", files=[("file", ("strategy.py", V1.encode()))])
        assert single.status_code == 201 and single.json()["active"] == 3, single.text
        wait_until(lambda: any("runs strategy v3" in m for m in _swaps(data)), 30, "the swap")
        back = api.post("/strategy/rollback")
        assert back.status_code == 200 and back.json()["active"] == 2, back.text
        wait_until(lambda: _swaps(data)[-1].startswith("Team alpha now runs strategy v2"), 30)
        assert api.post("/strategy/activate", json={"version": 7}).status_code == 404
        assert api.post("/strategy/activate", json={"version": 1}).json()["active"] == 1
        wait_until(lambda: _swaps(data)[-1].startswith("Team alpha now runs strategy v1"), 30)
        wait_until(lambda: _by_bar(data)[max(_by_bar(data))] == [1], 30, "v1 again")
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0, (tmp_path / "run.out").read_text()[-3000:]

    by_bar = _by_bar(data)
    bars = sorted(by_bar)
    # every minute ran once, none skipped: one market order per minute, minute after minute
    assert all(len(versions) == 1 for versions in by_bar.values()), by_bar
    assert len(bars) == len(set(bars)) >= 8
    ran = [by_bar[b][0] for b in bars]
    # each version ran a contiguous stretch of minutes, in the order they were activated
    stretches = [v for i, v in enumerate(ran) if i == 0 or ran[i - 1] != v]
    assert stretches == [1, 2, 3, 2, 1], ran
    # the resting order of v1's first minute stayed open through every swap, the only one
    resting = [o for o in _orders(data) if o["order_type"] == "limit"]  # pending only
    assert len(resting) == 1 and resting[0]["status"] in ("new", "accepted"), resting
    assert resting[0]["extra"]["strategy_version"] == 1
    log = (tmp_path / "qtc.log").read_text()
    assert "Team alpha now runs strategy v2 from minute" in log
    assert _stored_whole(data) == {1: True, 2: True, 3: True}


def _cli(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QTC, "strategies", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _active(data: Path) -> int:
    return int(json.loads((data / "team/alpha/strategies/active.json").read_text())["version"])


@pytest.mark.slow
def test_a_kill_mid_upload_or_mid_swap_leaves_the_old_version_or_the_new_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    folder = _folder(tmp_path)
    first = subprocess.run(
        _run(data, folder, None, "--duration", "3"), capture_output=True, text=True,
        env=clean_env(), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert _active(data) == 1
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "strategy.py").write_text(V2_MAIN)
    (v2 / "helpers.py").write_text(V2_HELPERS)

    # killed with the version's folder half-way: no version, the pointer unmoved
    killed = _cli(data, "upload", "alpha", str(v2), QTC_CRASH_AT="strategy_version.tmp_written")
    assert killed.returncode == CRASH_EXIT, killed.stderr
    assert _active(data) == 1 and _stored_whole(data) == {1: True}
    # killed with the version stored but the pointer's new copy not yet renamed: the old one
    killed = _cli(data, "upload", "alpha", str(v2), QTC_CRASH_AT="active.tmp_written")
    assert killed.returncode == CRASH_EXIT, killed.stderr
    assert _active(data) == 1 and _stored_whole(data) == {1: True, 2: True}
    # killed just after the rename: the new one
    killed = _cli(data, "upload", "alpha", str(v2), QTC_CRASH_AT="active.renamed")
    assert killed.returncode == CRASH_EXIT, killed.stderr
    assert _active(data) == 3 and _stored_whole(data) == {1: True, 2: True, 3: True}
    listing = _cli(data, "list", "alpha", "--json")
    assert json.loads(listing.stdout)["active"] == 3

    # the live run swaps to an activation made by the CLI, and is killed mid-swap
    with Processes() as started:
        run = started.start(_run(data, folder, None), tmp_path / "run.out", clean_env())
        wait_until(lambda: "Team alpha runs strategy v3" in _log(tmp_path), 60, "the run")
        assert _cli(data, "activate", "alpha", "1").returncode == 0
        wait_until(lambda: any("runs strategy v1" in m for m in _swaps(data)), 30, "the swap")
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    assert _active(data) == 1
    again = subprocess.run(
        _run(data, folder, None, "--duration", "2"), capture_output=True, text=True,
        env=clean_env(), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert (
        _log(tmp_path).count("Team alpha runs strategy v1") == 2
    )  # the first run's, then the restart's
    last = max(_by_bar(data))
    assert _by_bar(data)[last] == [1]
    assert _stored_whole(data) == {1: True, 2: True, 3: True}


def _log(tmp_path: Path) -> str:
    path = tmp_path / "qtc.log"
    return path.read_text() if path.exists() else ""
