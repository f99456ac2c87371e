"""The default store: one folder of JSON Lines files per team under the data directory."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtc.domain.orders import Order
from qtc.store.errors import CorruptFile
from qtc.store.jsonl import (
    FsyncCounter,
    append_line,
    make_private_dir,
    read_last,
    read_lines,
    read_numbered,
    remove_durably,
    repair_tail,
    write_atomic,
)
from qtc.store.records import TradeRecord, order_from_dict, order_to_dict

TRADES = "trades.jsonl"
PENDING = "pending_orders.jsonl"
HISTORY = "orders.jsonl"
ERRORS = "errors.jsonl"
PORTFOLIO = "portfolio"


class FileStore:
    """`data/team/{team_id}/` with trades, pending orders, order history, snapshots, errors."""

    def __init__(self, data_dir: Path, logger: logging.Logger | None = None) -> None:
        """Files live under `data_dir/team/`; folders are created on first write."""
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "team"
        self.log = logger or logging.getLogger("qtc.store")
        self.fsyncs = FsyncCounter()
        self._ready: set[Path] = set()  # files whose tail was checked by this process

    def team_dir(self, team_id: str) -> Path:
        """The folder of one team's files."""
        return self.root / team_id

    def team_ids(self) -> list[str]:
        """Teams that have a folder."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _writable(self, team_id: str, name: str) -> Path:
        path = self.team_dir(team_id) / name
        if path not in self._ready:
            make_private_dir(self.data_dir)
            make_private_dir(self.root)
            make_private_dir(path.parent)
            repair_tail(path, self.log)
            self._ready.add(path)
        return path

    def _append(self, team_id: str, name: str, obj: Any, point: str | None) -> None:
        path = self._writable(team_id, name)
        try:
            append_line(path, obj, self.fsyncs if point else None, point=point)
        except OSError:
            self._ready.discard(path)  # check (and repair) the tail again before the next one
            raise

    # ledger

    def load_trades(self, team_id: str) -> list[TradeRecord]:
        """The team's whole ledger, oldest first. A line that cannot be read raises
        CorruptFile (file and line): money never moves silently. Only a torn last line (a
        crash mid-append, never acknowledged) is skipped."""
        out: list[TradeRecord] = []
        path = self.team_dir(team_id) / TRADES
        for number, data in read_numbered(path, self.log, strict=True):
            try:
                out.append(TradeRecord.from_json(data))
            except (KeyError, ValueError, TypeError, ArithmeticError) as e:
                raise CorruptFile(path, number, f"bad trade line: {e!r:.200}") from e
        return out

    def append_trade(self, record: TradeRecord) -> None:
        """Append one ledger line, fsynced (OSError: not written, nothing left behind)."""
        self._append(record.team_id, TRADES, record.to_json(), "trades")

    def recent_trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` ledger lines, newest first."""
        return read_last(self.team_dir(team_id) / TRADES, limit, self.log)

    # open orders and history

    def load_open_orders(self, team_id: str) -> list[Order]:
        """The open orders as last saved."""
        return self._load_orders(self.team_dir(team_id) / PENDING)

    def save_open_orders(
        self, team_id: str, orders: Sequence[Order], *, new_order: bool = True
    ) -> None:
        """Rewrite pending_orders.jsonl atomically (temp, fsync, rename; the folder is fsynced
        too for a write-ahead); remove it when no order is open."""
        folder = self.team_dir(team_id)
        path = folder / PENDING
        if not orders:
            remove_durably(path, self.fsyncs if new_order else None)
            return
        make_private_dir(folder)
        write_atomic(
            path,
            (order_to_dict(o) for o in orders),
            self.fsyncs,
            sync_dir=new_order,
            point="pending",
        )

    def append_order_history(self, order: Order) -> None:
        """Append the closed order to orders.jsonl, fsynced."""
        self._append(order.team_id, HISTORY, order_to_dict(order), "history")

    def load_order_history(self, team_id: str) -> list[Order]:
        """Every orders.jsonl line, oldest first."""
        return self._load_orders(self.team_dir(team_id) / HISTORY)

    def _load_orders(self, path: Path) -> list[Order]:
        out: list[Order] = []
        for data in read_lines(path, self.log):
            try:
                out.append(order_from_dict(data))
            except (KeyError, ValueError, TypeError, ArithmeticError) as e:
                self.log.warning("Skipping malformed order line in %s: %s", path, e)
        return out

    # snapshots and errors

    def append_snapshot(self, team_id: str, at: datetime, snapshot: Mapping[str, Any]) -> None:
        """Append to portfolio/YYYY-MM-DD.jsonl (not fsynced: snapshots are derived data)."""
        day = at.astimezone(UTC).strftime("%Y-%m-%d")
        self._append(team_id, f"{PORTFOLIO}/{day}.jsonl", dict(snapshot), None)

    def append_error(self, team_id: str, record: Mapping[str, Any]) -> None:
        """Append one errors.jsonl line, fsynced."""
        self._append(team_id, ERRORS, dict(record), "errors")

    def recent_errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` errors, newest first."""
        return read_last(self.team_dir(team_id) / ERRORS, limit, self.log)
