"""The leaderboard's metrics and equity curves, brought up to date once per new minute.

Each team's snapshots are read on from where the last refresh stopped (`iter_snapshots`
from the last snapshot's time) and its ledger from its last counted fill, into running
metrics (`views.metrics`) and a compact minute curve (epoch minutes and cents), so a
request costs a merge and a sort, and a new minute costs what it added. A team's series
starts at its initial capital, one minute before its first snapshot.
"""

from __future__ import annotations

import bisect
import json
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from qtc.domain.times import iso, parse_time
from qtc.tracking.ports import TrackerView
from qtc.views.curves import downsample
from qtc.views.metrics import HIGHER_IS_BETTER, METRICS, EquityStats, RoundTrips
from qtc.views.money import money, money_from_cents

# what `sort_by` takes: the existing columns and every metric
SORT_KEYS = ("equity", "return_pct", "fills", "open_orders", *METRICS)
_HIGHER = {"equity": True, "return_pct": True, "fills": True, "open_orders": True}
_HIGHER.update(HIGHER_IS_BETTER)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_SECONDS = 60
_CACHED_QUESTIONS = 64  # history answers kept per minute (each browser asks the same)


class SnapshotSource(Protocol):
    """Where the snapshots come from (the store)."""

    def iter_snapshots(
        self, team_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[dict[str, Any]]: ...


@dataclass(slots=True)
class _Team:
    stats: EquityStats = field(default_factory=EquityStats)
    trips: RoundTrips = field(default_factory=RoundTrips)
    minutes: array[int] = field(default_factory=lambda: array("q"))  # epoch minutes
    cents: array[int] = field(default_factory=lambda: array("q"))  # equity, to the cent
    read_from: datetime | None = None  # the last snapshot read (read again: same-time lines)
    fills: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


def _epoch_minute(at: datetime) -> int:
    return int(at.timestamp()) // _MINUTE_SECONDS


def _cents(equity: Decimal) -> int:
    return int((equity * 100).to_integral_value(rounding=ROUND_HALF_UP))


class Board:
    """Every team's metrics and equity curve, refreshed when `minute()` says a new minute's
    snapshots exist (any change of its value)."""

    def __init__(
        self,
        tracker: TrackerView,
        snapshots: SnapshotSource | None,
        minute: Callable[[], object],
    ) -> None:
        self.tracker = tracker
        self.snapshots = snapshots
        self.minute = minute
        self._teams: dict[str, _Team] = {}
        self._key: object = object()  # never equal to a first minute
        self._times: dict[int, str] = {}  # epoch minute -> ISO text, shared by every curve
        self._stamp: object = None  # what the rendered leaderboards were made from
        self._merged: list[dict[str, Any]] = []
        self._bodies: dict[str, bytes] = {}  # sort_by -> the JSON answer
        self._curves_key: object = None  # the minute the cached curves were made in
        self._curves: dict[tuple[Any, ...], bytes] = {}  # question -> the JSON answer

    def refresh(self) -> None:
        """Read what each team added since the last refresh, if the minute moved on."""
        key = self.minute()
        if key == self._key:
            return
        for team_id in self.tracker.team_ids():
            team = self._teams.setdefault(team_id, _Team())
            self._read_snapshots(team_id, team)
            self._read_fills(team_id, team)
            team.metrics = {**team.stats.metrics(), **team.trips.metrics()}
        self._key = key

    def _read_snapshots(self, team_id: str, team: _Team) -> None:
        if self.snapshots is None:
            return
        for line in self.snapshots.iter_snapshots(team_id, team.read_from):
            try:
                at = parse_time(str(line["timestamp"]))
                equity = Decimal(str(line["equity"]))  # written by QTC: exact decimal text
            except (KeyError, ValueError, ArithmeticError):
                continue  # a line without a readable time or equity draws nothing
            if not equity.is_finite():
                continue
            if team.read_from is None:
                start = self.tracker.portfolio(team_id).initial_cash
                self._add_point(team, at - timedelta(minutes=1), start)
            self._add_point(team, at, equity)
            team.read_from = at

    @staticmethod
    def _add_point(team: _Team, at: datetime, equity: Decimal) -> None:
        team.stats.add(at, equity)
        minute, cents = _epoch_minute(at), _cents(equity)
        if team.minutes and minute == team.minutes[-1]:
            team.cents[-1] = cents  # the minute's last snapshot counts
        elif not team.minutes or minute > team.minutes[-1]:
            team.minutes.append(minute)
            team.cents.append(cents)

    def _read_fills(self, team_id: str, team: _Team) -> None:
        count = self.tracker.portfolio(team_id).fill_count
        if count > team.fills:
            for line in reversed(self.tracker.trades(team_id, count - team.fills)):
                team.trips.add_line(line)
            team.fills = count

    # the leaderboard

    def leaderboard(self, base: Callable[[], list[dict[str, Any]]], sort_by: str) -> bytes:
        """The JSON answer: `base()` (ranked by equity) with each team's metrics, sorted by
        `sort_by`; the same bytes again until the minute, a fill or an open order changes."""
        self.refresh()
        stamp = (self._key, self._fingerprint())
        if stamp != self._stamp:
            self._merged = self._merge(base())
            self._bodies, self._stamp = {}, stamp
        body = self._bodies.get(sort_by)
        if body is None:
            teams = self._sorted(self._merged, sort_by)
            body = json.dumps({"teams": teams}, separators=(",", ":"), allow_nan=False).encode()
            self._bodies[sort_by] = body
        return body

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """What a leaderboard row shows besides the minute's prices and metrics."""
        tracker = self.tracker
        return tuple(
            (t, tracker.portfolio(t).fill_count, len(tracker.open_orders(t)))
            for t in tracker.team_ids()
        )

    def _merge(self, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in base:
            team = self._teams.get(row["team_id"])
            metrics = team.metrics if team is not None else _no_metrics()
            out.append({**row, **metrics, "fees": money(metrics["fees"])})
        return out

    @staticmethod
    def _sorted(rows: list[dict[str, Any]], sort_by: str) -> list[dict[str, Any]]:
        """Best first by `sort_by`, nulls last, ties in equity order; ranked again."""
        ordered = rows if sort_by == "equity" else sorted(rows, key=_sort_key(sort_by))
        return [{**row, "rank": rank} for rank, row in enumerate(ordered, start=1)]

    # equity curves

    def history(
        self, team_ids: list[str], start: datetime | None, end: datetime | None, points: int
    ) -> bytes:
        """The JSON answer: each team's equity curve in [start, end], at most `points` points
        kept by `views.curves.downsample` (times ISO, equity to the cent); the same bytes
        again for the same question until the minute changes."""
        self.refresh()
        question = (tuple(team_ids), start, end, points)
        if self._curves_key is not self._key:
            self._curves.clear()
            self._curves_key = self._key
        body = self._curves.get(question)
        if body is None:
            low = _epoch_minute(start) if start is not None else None
            high = _epoch_minute(end) if end is not None else None
            answer = {
                "from": iso(start) if start is not None else None,
                "to": iso(end) if end is not None else None,
                "points": points,
                "teams": [self._curve(team_id, low, high, points) for team_id in team_ids],
            }
            body = json.dumps(answer, separators=(",", ":")).encode()
            if len(self._curves) >= _CACHED_QUESTIONS:
                self._curves.pop(next(iter(self._curves)))  # the oldest question
            self._curves[question] = body
        return body

    def _curve(self, team_id: str, low: int | None, high: int | None, points: int) -> Any:
        team = self._teams.get(team_id) or _Team()
        first = bisect.bisect_left(team.minutes, low) if low is not None else 0
        last = bisect.bisect_right(team.minutes, high) if high is not None else len(team.minutes)
        minutes, cents = team.minutes[first:last], team.cents[first:last]
        keep = downsample(cents, points)
        return {
            "team_id": team_id,
            "count": len(cents),
            "times": [self._time(minutes[i]) for i in keep],
            "equity": [money_from_cents(cents[i]) for i in keep],
        }

    def _time(self, minute: int) -> str:
        text = self._times.get(minute)
        if text is None:
            at = _EPOCH + timedelta(minutes=minute)
            text = self._times[minute] = at.isoformat()
        return text


def _no_metrics() -> dict[str, Any]:
    return {**EquityStats().metrics(), **RoundTrips().metrics()}


def _sort_key(name: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    """Best first (the larger value, or the smaller where less is better); nulls last."""
    higher = _HIGHER[name]

    def key(row: Mapping[str, Any]) -> tuple[bool, Any]:
        value = row[name]
        if value is None:
            return (True, 0)
        number = Decimal(value) if isinstance(value, str) else value
        return (False, -number if higher else number)

    return key
