"""`qtc run` scenarios that can be killed anywhere, and the comparison with the broker's truth.

Two scenarios: the simulated exchange inside `qtc run` (its truth is the replay of
`data/exchange/journal.jsonl`), and Alpaca mode against a `qtc exchange` process that outlives
every kill (its truth is `GET /qtc/executions` and its order listing). `check` returns what
differs, as sentences, so a harness can print a table before it asserts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from tests.e2e.conftest import (
    Exchange,
    Processes,
    clean_env,
    last_snapshot,
    read_lines,
    start_exchange,
)

from qtc.domain.portfolio import Portfolio
from qtc.exchange.engine.journal import JournaledEngine
from qtc.store.records import TradeRecord

STRATEGY = Path(__file__).parent / "strategies" / "churn"
SYMBOLS = ["BTC/USD", "ETH/USD"]
SEED = 7
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CAPITAL = Decimal(1_000_000)
EXCHANGE_BUYING_POWER = Decimal(100_000_000)
KEY, SECRET = "e2e-key", "e2e-secret"
MINUTE = timedelta(minutes=1)
RUN_TIMEOUT = 90.0  # seconds any one `qtc run` may take, startup and shutdown included
# a fill learned by polling is priced from the broker's average, rounded to 1e-9
NOTIONAL_TOLERANCE = Decimal("0.000001")


def start_alpaca_exchange(processes: Processes, folder: Path) -> Exchange:
    """A `qtc exchange --clock manual` on a free port, for every Alpaca-mode run of a test."""
    return start_exchange(processes, folder, seed=SEED, start=START, symbols=SYMBOLS)


@dataclass
class Scenario:
    """One data directory, its teams, and the `qtc run` command that trades over it.

    With `exchange` the run is in Alpaca mode and the test keeps the exchange's manual clock
    at most a minute ahead of the run's durable progress (`pace`)."""

    folder: Path
    teams: dict[str, int]  # team id -> the strategy's variant
    processes: Processes
    exchange: Exchange | None = None
    trade_minutes: int = 8
    end_minute: int = 11  # the run processes minutes [0, end_minute) from `start`
    speed: float = 2000.0
    start: datetime = START
    runs: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = self.folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        if self.exchange is not None:
            self.start = self.exchange.now()

    @property
    def mode(self) -> str:
        return "alpaca" if self.exchange is not None else "simulated"

    def registry(self, quiet: bool) -> Path:
        path = self.folder / ("quiet.yaml" if quiet else "teams.yaml")
        path.write_text(
            yaml.safe_dump(
                [
                    {
                        "id": team_id,
                        "path": str(STRATEGY),
                        "strategy": "strategy:Strategy",
                        "capital": str(CAPITAL),
                        "params": {
                            "start": self.start.isoformat(),
                            "variant": variant,
                            "trade_minutes": 0 if quiet else self.trade_minutes,
                        },
                    }
                    for team_id, variant in self.teams.items()
                ]
            )
        )
        return path

    def env(self, **extra: str) -> dict[str, str]:
        if self.exchange is None:
            return clean_env(**extra)
        return clean_env(
            ALPACA_API_KEY=KEY,
            ALPACA_API_SECRET=SECRET,
            ALPACA_BASE_URL=self.exchange.url,
            ALPACA_STREAM_URL=self.exchange.stream_url,
            ALPACA_DATA_URL=self.exchange.url,
            **extra,
        )

    def progress(self) -> datetime | None:
        """The next minute the run will process, from its durable progress file."""
        try:
            raw = json.loads((self.data / "run_state.json").read_text())["next_minute"]
            return datetime.fromisoformat(raw).astimezone(UTC)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def next_index(self) -> int | None:
        at = self.progress()
        return None if at is None else int((at - self.start) / MINUTE)

    def start_run(
        self, *, quiet: bool = False, duration: int | None = None, **env: str
    ) -> subprocess.Popen[bytes]:
        """`qtc run` from where the data dir's progress says (from `start` on a fresh dir),
        until `end_minute` (or for `duration` minutes)."""
        resume = self.next_index()
        if duration is None:
            duration = max(1, self.end_minute - (resume or 0))
        self.runs += 1
        name = f"run{self.runs}"
        command = [sys.executable, "-m", "qtc", "run", "--registry", str(self.registry(quiet))]
        command += ["--market", "simulated", "--symbols", *SYMBOLS, "--seed", str(SEED)]
        command += ["--speed", str(self.speed), "--duration", str(duration)]
        command += ["--data-dir", str(self.data), "--no-api", "--reconcile-interval", "1"]
        command += ["--log-file", str(self.folder / f"{name}.log"), "--strategy-timeout", "5"]
        if resume is None:
            command += ["--start", self.start.isoformat()]
        self.log.append(f"{name}: resume={resume} duration={duration} env={sorted(env)}")
        return self.processes.start(command, self.folder / f"{name}.out", self.env(**env))

    def pace(self) -> None:
        """Complete one exchange minute if the run has caught up with the exchange."""
        if self.exchange is None:
            return
        progress = self.progress()
        if progress is not None and self.exchange.now() <= progress:
            self.exchange.advance(1)

    def wait(
        self, run: subprocess.Popen[bytes], timeout: float = RUN_TIMEOUT, pace: bool = True
    ) -> int:
        """Wait for the run to end, pacing the exchange meanwhile; its exit code."""
        deadline_left = timeout
        step = 0.02
        while deadline_left > 0:
            if pace:
                self.pace()
            try:
                return run.wait(step)
            except subprocess.TimeoutExpired:
                deadline_left -= step
        run.kill()
        run.wait(10)
        raise AssertionError(f"qtc run did not end in {timeout}s: {self.last_output()}")

    def last_output(self) -> str:
        outs = sorted(self.folder.glob("run*.out"), key=lambda p: p.stat().st_mtime)
        return outs[-1].read_text()[-2000:] if outs else ""

    def finish(self) -> list[str]:
        """Run to the end over the data dir and settle; what went wrong, if anything."""
        problems = []
        rc = self.wait(self.start_run())
        if rc != 0:
            problems.append(f"the restarted run exited {rc}: {self.last_output()[-600:]}")
        return problems + self.settle()

    def settle(self) -> list[str]:
        """Alpaca mode: with the exchange standing still, a quiet run whose startup reconcile
        learns every order's final state (the simulated exchange settles in-process)."""
        if self.exchange is None:
            return []
        rc = self.wait(self.start_run(quiet=True, duration=1), pace=False)
        if rc != 0:
            return [f"the settling run exited {rc}: {self.last_output()[-600:]}"]
        return []

    def truth(self) -> Truth:
        """What the broker says happened, for this scenario's teams."""
        prefixes = tuple(f"{team}-" for team in self.teams)
        if self.exchange is None:
            return _journal_truth(self.data, len(self.teams), prefixes)
        executions = [
            e for e in self.exchange.executions() if e["client_order_id"].startswith(prefixes)
        ]
        after = (self.start - MINUTE).isoformat()
        orders: list[dict[str, Any]] = []
        for _ in range(100):  # pages of 500, oldest first
            page = self.exchange.alpaca_get(
                f"/v2/orders?status=all&limit=500&direction=asc&after={after}"
            )
            orders += page
            if len(page) < 500:
                break
            after = page[-1]["submitted_at"]
        ours = [o for o in orders if o["client_order_id"].startswith(prefixes)]
        return Truth(
            executions=executions,
            orders={o["client_order_id"] for o in ours},
            open={
                o["client_order_id"]: Decimal(o["filled_qty"])
                for o in ours
                if o["status"] not in ("filled", "canceled", "expired", "rejected", "replaced")
            },
        )


@dataclass
class Truth:
    """The broker's executions, the client ids of every order it got, and its open orders."""

    executions: list[dict[str, Any]]
    orders: set[str]
    open: dict[str, Decimal]  # client order id -> filled quantity


def _journal_truth(data: Path, teams: int, prefixes: tuple[str, ...]) -> Truth:
    copy = data.parent / "journal-replay.jsonl"
    shutil.copyfile(data / "exchange" / "journal.jsonl", copy)
    engine = JournaledEngine.open(
        copy, seed=SEED, symbols=SYMBOLS, buying_power=CAPITAL * teams
    )  # the run's own engine settings: participation and spread at their defaults
    try:
        executions = [
            {
                "execution_id": e.execution_id,
                "client_order_id": e.client_order_id,
                "qty": str(e.qty),
                "price": str(e.price),
            }
            for e in engine.executions
            if e.client_order_id.startswith(prefixes)
        ]
        every = engine.list("all", limit=1_000_000)
        open_orders = engine.list("open", limit=1_000_000)
    finally:
        engine.close()
    return Truth(
        executions=executions,
        orders={o.client_order_id for o in every if o.client_order_id.startswith(prefixes)},
        open={
            o.client_order_id: o.filled_qty
            for o in open_orders
            if o.client_order_id.startswith(prefixes)
        },
    )


def _trades(path: Path, problems: list[str]) -> list[TradeRecord]:
    records = []
    text = path.read_text() if path.exists() else ""
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            records.append(TradeRecord.from_json(json.loads(line)))
        except (ValueError, KeyError) as e:
            problems.append(f"{path.name} line {number} unreadable ({e}): {line[:120]!r}")
    return records


def _orders(team_dir: Path) -> dict[str, dict[str, Any]]:
    """Every order the team's files know: its history, then its open orders (latest wins)."""
    known: dict[str, dict[str, Any]] = {}
    for row in read_lines(team_dir / "orders.jsonl"):
        known[row["order_id"]] = row
    for row in read_lines(team_dir / "pending_orders.jsonl"):
        known[row["order_id"]] = row
    return known


@dataclass
class Summary:
    """What a check looked at."""

    fills: int = 0
    executions: int = 0
    lost: int = 0
    doubled: int = 0


def check(scenario: Scenario, summary: Summary | None = None) -> list[str]:
    """Every way the team files disagree with the broker, one sentence each (empty: none)."""
    summary = summary if summary is not None else Summary()
    problems: list[str] = []
    try:
        truth = scenario.truth()
    except Exception as e:  # the truth itself unreadable is a finding, not a crash of the table
        return [f"broker truth unreadable: {type(e).__name__}: {e}"]
    executed = _per_order(
        (e["client_order_id"], Decimal(e["qty"]), Decimal(e["price"])) for e in truth.executions
    )
    summary.executions += len(truth.executions)
    for team in scenario.teams:
        team_dir = scenario.data / "team" / team
        records = _trades(team_dir / "trades.jsonl", problems)
        summary.fills += len(records)
        ids = [r.execution_id for r in records]
        for execution_id in {i for i in ids if ids.count(i) > 1}:
            problems.append(f"{team}: execution {execution_id} booked {ids.count(execution_id)}x")
        last: dict[str, Decimal] = {}
        for r in records:
            if r.filled_qty <= last.get(r.order_id, Decimal(0)):
                problems.append(f"{team}: order {r.order_id} cumulative qty went {r.filled_qty}")
            last[r.order_id] = r.filled_qty
        booked = _per_order((r.order_id, r.quantity, r.execution_price) for r in records)
        mine = {k: v for k, v in executed.items() if k.startswith(f"{team}-")}
        for order_id in sorted(mine.keys() | booked.keys()):
            want_q, want_n = mine.get(order_id, (Decimal(0), Decimal(0)))
            got_q, got_n = booked.get(order_id, (Decimal(0), Decimal(0)))
            if got_q < want_q:
                summary.lost += 1
            elif got_q > want_q:
                summary.doubled += 1
            if got_q != want_q or abs(got_n - want_n) > NOTIONAL_TOLERANCE:
                problems.append(
                    f"{team}: order {order_id} executed qty {want_q} notional {want_n}, "
                    f"ledger qty {got_q} notional {got_n}"
                )

        replayed = Portfolio.replay(CAPITAL, (r.to_fill() for r in records))
        try:
            snapshot = last_snapshot(scenario.data, team)
        except AssertionError:
            snapshot = None
        if records and snapshot is None:
            problems.append(f"{team}: no portfolio snapshot")
        elif snapshot is not None:
            got = (
                Decimal(snapshot["cash"]),
                snapshot["fill_count"],
                _nonzero({s: Decimal(p["quantity"]) for s, p in snapshot["positions"].items()}),
            )
            want = (
                replayed.cash,
                len(records),
                _nonzero({s: p.quantity for s, p in replayed.positions.items()}),
            )
            if got != want:
                problems.append(f"{team}: last snapshot {got} != ledger replay {want}")

        pending = {
            row["order_id"]: Decimal(row["filled_qty"])
            for row in read_lines(team_dir / "pending_orders.jsonl")
        }
        at_broker = {k: v for k, v in truth.open.items() if k.startswith(f"{team}-")}
        if pending != at_broker:
            extra = {k: v for k, v in pending.items() if at_broker.get(k) != v}
            missing = {k: v for k, v in at_broker.items() if pending.get(k) != v}
            problems.append(
                f"{team}: pending_orders.jsonl has {extra} the broker has not open; "
                f"the broker has open {missing} pending_orders.jsonl has not"
            )

        known = _orders(team_dir)
        sent = {c for c in truth.orders if c.startswith(f"{team}-")}
        for client_id in sorted(sent - known.keys()):
            problems.append(f"{team}: the broker has order {client_id} the team's files do not")
        tags: dict[str, list[str]] = {}
        for order_id, row in known.items():
            tag = (row.get("extra") or {}).get("tag")
            if tag is not None:
                tags.setdefault(str(tag), []).append(order_id)
        for tag, order_ids in sorted(tags.items()):
            if len(order_ids) > 1:
                at_broker_too = [i for i in order_ids if i in sent]
                seen = ", ".join(
                    f"{i} ({known[i]['status']}{', at the broker' if i in sent else ''})"
                    for i in order_ids
                )
                what = "sent" if len(at_broker_too) > 1 else "decided (minute run again)"
                problems.append(f"{team}: minute:slot {tag} {what} {len(order_ids)}x: {seen}")
    return problems


def _per_order(rows: Any) -> dict[str, tuple[Decimal, Decimal]]:
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for order_id, qty, price in rows:
        q, n = out.get(order_id, (Decimal(0), Decimal(0)))
        out[order_id] = (q + qty, n + qty * price)
    return out


def _nonzero(positions: dict[str, Decimal]) -> dict[str, Decimal]:
    return {s: q for s, q in positions.items() if q != 0}


def run_until(condition: Callable[[], bool], scenario: Scenario, timeout: float) -> bool:
    """Pace the exchange until `condition` holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        scenario.pace()
        time.sleep(0.01)
    return False
