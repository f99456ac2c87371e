"""The default store: one folder of JSON Lines files per team under the data directory."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtc.domain.orders import Order
from qtc.domain.times import parse_time
from qtc.store import compact, segments
from qtc.store.errors import CorruptFile
from qtc.store.jsonl import (
    FsyncCounter,
    append_line,
    append_lines,
    dumps,
    make_private_dir,
    read_last,
    read_lines,
    read_lines_from,
    read_numbered,
    repair_tail,
    write_atomic_many,
)
from qtc.store.records import TradeRecord, order_from_dict, order_to_dict

TRADES = "trades.jsonl"
PENDING = "pending_orders.jsonl"
HISTORY = "orders.jsonl"
ERRORS = "errors.jsonl"
PORTFOLIO = "portfolio"
INTENTS = "intents.jsonl"  # in the data directory: new orders not yet in their team's file


class FileStore:
    """`data/team/{team_id}/` with trades, pending orders, order history, snapshots, errors."""

    def __init__(
        self, data_dir: Path, logger: logging.Logger | None = None, *, read_only: bool = False
    ) -> None:
        """Files live under `data_dir/team/`; folders are created on first write. A
        `read_only` store (another process reading a competition) never writes a byte."""
        self.data_dir = Path(data_dir)
        self.read_only = read_only
        self._recovered: set[str] = set()
        self.root = self.data_dir / "team"
        self.log = logger or logging.getLogger("qtc.store")
        self.fsyncs = FsyncCounter()
        self._ready: set[Path] = set()  # files whose tail was checked by this process
        self._live_month: dict[Path, str | None] = {}  # month of each live file's first line
        self.indexes = segments.SegmentIndexes()
        self._live_history = _LiveOrders(self.log)
        # snapshot file -> (inode, offset, time): where a line of that time starts, with
        # only older lines before it (the next read of a growing day file starts there)
        self._cursors: dict[Path, tuple[int, int, datetime]] = {}

    def team_dir(self, team_id: str) -> Path:
        """The folder of one team's files."""
        return self.root / team_id

    def team_ids(self) -> list[str]:
        """Teams that have a folder."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _writable(self, team_id: str, name: str) -> Path:
        if self.read_only:
            raise PermissionError(f"read-only store: not writing {team_id}/{name}")
        path = self.team_dir(team_id) / name
        if path not in self._ready:
            make_private_dir(self.data_dir)
            make_private_dir(self.root)
            make_private_dir(path.parent)
            repair_tail(path, self.log)
            self._ready.add(path)
        return path

    def _append(
        self, team_id: str, name: str, obj: Any, point: str | None, *, sync: bool = True
    ) -> None:
        path = self._writable(team_id, name)
        if name in segments.ROTATED:
            self._rotate_if_new_month(path, name, obj)
        try:
            append_line(path, obj, self.fsyncs if point and sync else None, point=point)
        except OSError:
            self._ready.discard(path)  # check (and repair) the tail again before the next one
            raise

    def _rotate_if_new_month(self, path: Path, name: str, obj: Any) -> None:
        """A line of a later month than the live file's first line closes the live file."""
        kind, time_field = segments.ROTATED[name]
        month = segments.line_month(obj, time_field)
        if path not in self._live_month:
            self._live_month[path] = segments.first_line_month(path, time_field)
        live = self._live_month[path]
        if month is None:
            return
        if live is not None and month > live and path.exists():
            try:
                target = segments.rotate(path, kind, live, self.fsyncs)
            finally:  # None once the rename is done, even if making it durable failed
                live = self._live_month[path] = segments.first_line_month(path, time_field)
            self.log.info("Rotated %s to %s", path, target)
        if live is None:
            self._live_month[path] = month

    def _paths(self, team_id: str, name: str) -> list[Path]:
        return segments.all_paths(self.team_dir(team_id), name)

    def _last_lines(self, team_id: str, name: str, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for path in reversed(self._paths(team_id, name)):
            if len(out) >= limit:
                break
            out.extend(read_last(path, limit - len(out), self.log))
        return out

    # ledger

    def load_trades(self, team_id: str) -> list[TradeRecord]:
        """The team's whole ledger, oldest first. A line that cannot be read raises
        CorruptFile (file and line): money never moves silently. Only a torn last line (a
        crash mid-append, never acknowledged) is skipped."""
        if not self.read_only and team_id not in self._recovered:
            # a `qtc compact` killed mid-split is finished (or undone) before any replay
            compact.recover(self.team_dir(team_id), self.fsyncs, self.log)
            self._recovered.add(team_id)
        out: list[TradeRecord] = []
        for path in self._paths(team_id, TRADES):
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
        """The last `limit` ledger lines, newest first (from the closed segments too)."""
        return self._last_lines(team_id, TRADES, limit)

    def trades_of_order(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        """Every ledger line of one order (by either id), oldest first, from any segment."""
        team_dir = self.team_dir(team_id)
        found = set(self.indexes.holding(team_dir, "trades", "timestamp", order_id))
        paths = [p for p in segments.segment_paths(team_dir, "trades") if p in found]
        out: list[dict[str, Any]] = []
        for path in [*paths, team_dir / TRADES]:
            for data in read_lines(path, self.log):
                if order_id in (data.get("order_id"), data.get("broker_order_id")):
                    out.append(data)
        return out

    # open orders and history

    def load_open_orders(self, team_id: str) -> list[Order]:
        """The open orders as last saved."""
        return self._load_orders(self.team_dir(team_id) / PENDING)

    def save_open_orders_of(self, open_orders: Mapping[str, Sequence[Order]]) -> None:
        """Rewrite the pending_orders.jsonl of these teams at once, durably, with two syncs in
        all (not two per team); a team with no open order loses its file."""
        encode = self.encode_open_order
        self.save_open_records_of({t: [encode(o) for o in os_] for t, os_ in open_orders.items()})

    def encode_open_order(self, order: Order) -> str:
        """One open order as its pending_orders.jsonl line keeps it (without the newline)."""
        return dumps(order_to_dict(order))

    def save_open_records_of(self, records: Mapping[str, Collection[str]]) -> None:
        """`save_open_orders_of` for orders already encoded by `encode_open_order` (safe on
        another thread: it reads nothing but its arguments and the disk)."""
        if self.read_only:
            raise PermissionError(f"read-only store: not writing {PENDING}")
        files: dict[Path, bytes] = {}
        gone: list[Path] = []
        for team_id, lines in records.items():
            folder = self.team_dir(team_id)
            if not lines:
                gone.append(folder / PENDING)
                continue
            if not folder.is_dir():
                make_private_dir(self.data_dir)
                make_private_dir(self.root)
                make_private_dir(folder)
            files[folder / PENDING] = "".join(line + "\n" for line in lines).encode("utf-8")
        write_atomic_many(files, self.fsyncs, point="pending")
        for path in gone:
            path.unlink(missing_ok=True)
        if gone and not files:
            self.fsyncs.sync_filesystem(self.data_dir)

    # the intent log: the write-ahead of a whole batch of new orders

    def append_intents(self, orders: Sequence[Order]) -> None:
        """Append the new orders to `intents.jsonl` with one fsync for all of them: once this
        returns they survive a crash, before any is sent (OSError: none was recorded)."""
        if self.read_only:
            raise PermissionError(f"read-only store: not writing {INTENTS}")
        if not orders:
            return
        path = self.data_dir / INTENTS
        if path not in self._ready:
            make_private_dir(self.data_dir)
            repair_tail(path, self.log)
            self._ready.add(path)
        try:
            append_lines(path, (order_to_dict(o) for o in orders), self.fsyncs, point="intents")
        except OSError:
            self._ready.discard(path)
            raise

    def load_intents(self) -> list[Order]:
        """The orders of the intent log, oldest first: the closed generations (set aside by
        `rotate_intents`, not yet dropped), then the live file. Each is also in its team's
        file or history once the rewrite that dropped its generation happened."""
        out: list[Order] = []
        for path in [*self._intent_generations().values(), self.data_dir / INTENTS]:
            out.extend(self._load_orders(path))
        return out

    def rotate_intents(self) -> int:
        """Close the live intent log as a numbered generation (new intents start a new file)
        and return its number: an open-orders rewrite begun now holds every order in it and
        in the generations before, so `drop_intents` of that number may follow the rewrite.
        The rename is not synced: after a crash either name is read, the same lines."""
        if self.read_only:
            raise PermissionError(f"read-only store: not writing {INTENTS}")
        generations = self._intent_generations()
        number = max(generations, default=0) + 1
        live = self.data_dir / INTENTS
        with contextlib.suppress(FileNotFoundError):
            os.rename(live, self.data_dir / f"intents.{number}.jsonl")
        self._ready.discard(live)
        return number

    def drop_intents(self, upto: int) -> None:
        """Delete the intent log's generations up to `upto`: their orders are in their teams'
        files now. Not synced: a stale line replayed after a crash is found in those files
        and changes nothing."""
        if self.read_only:
            raise PermissionError(f"read-only store: not writing {INTENTS}")
        for number, path in self._intent_generations().items():
            if number <= upto:
                path.unlink(missing_ok=True)

    def _intent_generations(self) -> dict[int, Path]:
        """The intent log's closed generations by number, oldest first."""
        found: dict[int, Path] = {}
        for path in self.data_dir.glob("intents.*.jsonl"):
            number = path.name.split(".")[1]
            if number.isdigit():
                found[int(number)] = path
        return dict(sorted(found.items()))

    def append_order_history(self, order: Order) -> None:
        """Append the closed order to orders.jsonl (made durable by the next `sync` or open
        orders rewrite, which comes before the order leaves pending_orders.jsonl)."""
        self._append(order.team_id, HISTORY, order_to_dict(order), "history", sync=False)

    def load_order_history(self, team_id: str) -> list[Order]:
        """Every orders.jsonl line of every segment, oldest first."""
        out: list[Order] = []
        for path in self._paths(team_id, HISTORY):
            out.extend(self._load_orders(path))
        return out

    def find_closed_order(self, team_id: str, order_id: str) -> Order | None:
        """The latest history line of one order (by either id): the live file first, then
        the segments whose index names it, newest first."""
        team_dir = self.team_dir(team_id)
        live = self._live_history.lookup(team_dir / HISTORY, order_id)
        if live is not None:
            return live
        for path in self.indexes.holding(team_dir, "orders", "updated_at", order_id):
            found = None
            for order in self._load_orders(path):
                if order_id in (order.order_id, order.broker_order_id):
                    found = order
            if found is not None:
                return found
        return None

    def closed_orders_newest_first(self, team_id: str) -> Iterator[Order]:
        """Every closed order once (its latest line), the last closed first, from all
        segments."""
        seen: set[str] = set()
        for path in reversed(self._paths(team_id, HISTORY)):
            for order in reversed(self._load_orders(path)):
                if order.order_id not in seen:
                    seen.add(order.order_id)
                    yield order

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
        """Append one errors.jsonl line (made durable by the next `sync`)."""
        self._append(team_id, ERRORS, dict(record), "errors", sync=False)

    def sync(self) -> None:
        """Make every append so far durable with one filesystem sync."""
        if self.read_only:
            raise PermissionError("read-only store: nothing to sync")
        self.fsyncs.sync_filesystem(self.data_dir)

    def recent_errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` errors, newest first (from the closed segments too)."""
        return self._last_lines(team_id, ERRORS, limit)

    # reading a competition's files from another process (qtc serve)

    def team_stamp(self, team_id: str) -> tuple[tuple[str, int, int], ...]:
        """Name, size and mtime of every file of the team: it changes when any file does."""
        folder = self.team_dir(team_id)
        out: list[tuple[str, int, int]] = []
        for sub in (folder, folder / PORTFOLIO, *segments.segment_folders(folder)):
            try:
                entries = list(os.scandir(sub))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                out.append((entry.path, st.st_size, st.st_mtime_ns))
        return tuple(sorted(out))

    def iter_snapshots(
        self, team_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """The team's portfolio snapshots timed in [start, end), oldest first, streamed: the
        month segments whose index overlaps the range, then the day files it covers, each
        entered by bisecting to `start` (snapshots are appended in time order), or from
        where the last read of the file stopped when that was before `start`."""
        for path in self._snapshot_files(team_id, start, end):
            if start is None and end is None:
                for _, obj in read_lines_from(path, self.log, _never):
                    yield obj
            else:
                yield from self._snapshots_in(path, start, end)

    def _snapshots_in(
        self, path: Path, start: datetime | None, end: datetime | None
    ) -> Iterator[dict[str, Any]]:
        inode, offset = self._snapshot_cursor(path, start)
        newest: datetime | None = None
        for line_at, obj in read_lines_from(path, self.log, lambda o: _before(o, start), offset):
            at = _snapshot_time(obj)
            if at is None:
                continue
            if newest is None or at > newest:  # every line before this one is older
                self._cursors[path] = (inode, line_at, at)
                newest = at
            if start is not None and at < start:
                continue
            if end is not None and at >= end:
                break
            yield obj

    def _snapshot_cursor(self, path: Path, start: datetime | None) -> tuple[int, int]:
        """(inode, offset to read `path` from for `start`): a line start with only older
        lines before it, remembered from the last read, or 0."""
        try:
            inode = path.stat().st_ino
        except FileNotFoundError:
            return 0, 0
        cursor = self._cursors.get(path)
        if start is None or cursor is None or cursor[0] != inode or cursor[2] > start:
            return inode, 0
        return inode, cursor[1]

    def _snapshot_files(
        self, team_id: str, start: datetime | None, end: datetime | None
    ) -> list[Path]:
        folder = self.team_dir(team_id)
        out = []
        for path, summary in self.indexes.summaries(folder, PORTFOLIO, "timestamp"):
            low, high = _index_time(summary.min_time), _index_time(summary.max_time)
            if high is None or (start is not None and high < start):
                continue
            if end is not None and low is not None and low >= end:
                continue
            out.append(path)
        days = folder / PORTFOLIO
        try:
            names = sorted(n for n in os.listdir(days) if n.endswith(".jsonl"))
        except FileNotFoundError:
            names = []
        for name in names:
            day = name[: -len(".jsonl")]
            if start is not None and day < start.astimezone(UTC).strftime("%Y-%m-%d"):
                continue
            if end is not None and day > end.astimezone(UTC).strftime("%Y-%m-%d"):
                continue
            out.append(days / name)
        return out

    def last_snapshot(self, team_id: str) -> dict[str, Any] | None:
        """The team's latest portfolio snapshot (the last line of its latest day or month)."""
        folder = self.team_dir(team_id)
        days = sorted((folder / PORTFOLIO).glob("*.jsonl"))
        months = segments.segment_paths(folder, PORTFOLIO)
        for path in [*reversed(days), *reversed(months)]:
            last = read_last(path, 1, self.log)
            if last:
                return last[0]
        return None


def _snapshot_time(obj: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time(str(obj["timestamp"]))
    except (KeyError, ValueError, OverflowError):
        return None


def _index_time(raw: str | None) -> datetime | None:
    return _snapshot_time({"timestamp": raw}) if raw is not None else None


def _never(obj: Mapping[str, Any]) -> bool:
    return False


def _before(obj: Mapping[str, Any], start: datetime | None) -> bool:
    at = _snapshot_time(obj)
    return start is not None and at is not None and at < start


class _LiveOrders:
    """The latest line of each order in each live orders.jsonl, read on from where the last
    lookup stopped (the file only grows until a rotation replaces it), so that looking up an
    unknown id does not parse the whole file again."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._files: dict[Path, tuple[int, int, dict[str, Order]]] = {}

    def lookup(self, path: Path, order_id: str) -> Order | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            self._files.pop(path, None)
            return None
        inode, offset, orders = self._files.get(path, (st.st_ino, 0, {}))
        if inode != st.st_ino or st.st_size < offset:
            offset, orders = 0, {}
        if st.st_size > offset:
            offset = self._read_on(path, offset, orders)
        self._files[path] = (st.st_ino, offset, orders)
        found = orders.get(order_id)
        return copy.copy(found) if found is not None else None  # callers may catch it up

    def _read_on(self, path: Path, offset: int, orders: dict[str, Order]) -> int:
        with path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line being written: read it next time
                offset += len(raw)
                try:
                    order = order_from_dict(json.loads(raw))
                except (ValueError, KeyError, TypeError, ArithmeticError) as e:
                    self.log.warning("Skipping malformed order line in %s: %s", path, e)
                    continue
                orders[order.order_id] = order
                if order.broker_order_id:
                    orders[order.broker_order_id] = order
        return offset
