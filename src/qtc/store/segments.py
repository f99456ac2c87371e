"""Closed segments of the append-only files: `segments/{kind}/YYYY-MM.jsonl` and their index.

A team's `trades.jsonl`, `orders.jsonl` and `errors.jsonl` are each the *live* segment of a
sequence. When a line of a later UTC month than the live segment's first line is appended, the
whole live file is renamed (one atomic step: nothing copied, nothing lost, nothing reordered)
to `segments/{kind}/{month of its first line}.jsonl`, and the line starts a new live file. So a
segment holds the lines from the first line of its month up to the first line of a later
month; a late line with an older time stays where it was written. The segments in name order
(`YYYY-MM`, then `YYYY-MM.N` should a name repeat) followed by the live file are every line
ever written, in order.

Beside each segment, `YYYY-MM.index.json` (written once, after the rename) says how many lines
and bytes it holds, its first, last, lowest and highest times, and the order ids it mentions
(order ids and broker order ids), so that one order is found without reading every segment.
The index is derived data: a reader that finds none builds it in memory from the segment.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtc.store import jsonl

SEGMENTS = "segments"
# live file -> (kind, the field that dates a line)
ROTATED = {
    "trades.jsonl": ("trades", "timestamp"),
    "orders.jsonl": ("orders", "updated_at"),
    "errors.jsonl": ("errors", "timestamp"),
}
INDEX_SUFFIX = ".index.json"
_NAME = re.compile(r"^(\d{4}-\d{2})(?:\.(\d+))?\.jsonl$")
_MONTH = re.compile(r"^\d{4}-\d{2}")


def month_of(value: Any) -> str | None:
    """`YYYY-MM` of an ISO time QTC wrote (always UTC), or None when it is not one."""
    if isinstance(value, str) and _MONTH.match(value):
        return value[:7]
    return None


def line_month(obj: Any, time_field: str) -> str | None:
    """The UTC month of one record, by its dating field."""
    return month_of(obj.get(time_field)) if isinstance(obj, dict) else None


def segment_dir(team_dir: Path, kind: str) -> Path:
    """Where the closed segments of one kind of file live."""
    return team_dir / SEGMENTS / kind


def segment_folders(team_dir: Path) -> list[Path]:
    """Every kind's segment folder of one team (those that exist)."""
    root = team_dir / SEGMENTS
    try:
        return sorted(p for p in root.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def _order_key(path: Path) -> tuple[str, int]:
    match = _NAME.match(path.name)
    assert match is not None
    return match.group(1), int(match.group(2) or 0)


def segment_paths(team_dir: Path, kind: str) -> list[Path]:
    """The closed segments of `kind`, oldest first."""
    folder = segment_dir(team_dir, kind)
    try:
        names = [p for p in folder.iterdir() if _NAME.match(p.name)]
    except FileNotFoundError:
        return []
    return sorted(names, key=_order_key)


def all_paths(team_dir: Path, live_name: str) -> list[Path]:
    """Every segment of a rotated file, then the live file: all its lines in order."""
    kind = ROTATED[live_name][0]
    return [*segment_paths(team_dir, kind), team_dir / live_name]


def first_line_month(path: Path, time_field: str) -> str | None:
    """The month of the first line of `path` (None when absent, empty or undated)."""
    try:
        with path.open("rb") as f:
            raw = f.readline()
    except FileNotFoundError:
        return None
    try:
        return line_month(json.loads(raw), time_field)
    except (ValueError, UnicodeDecodeError):
        return None


def free_name(folder: Path, month: str) -> Path:
    """`month.jsonl`, or `month.N.jsonl` with the first free N should it exist already."""
    path = folder / f"{month}.jsonl"
    n = 1
    while path.exists():
        path = folder / f"{month}.{n}.jsonl"
        n += 1
    return path


def rotate(path: Path, kind: str, month: str, fsync: jsonl.FsyncCounter) -> Path:
    """Rename the live file `path` into its kind's segments as `month`, durably, and index it.

    Only the process that appends to `path` may call this (it owns the data directory)."""
    folder = segment_dir(path.parent, kind)
    jsonl.make_private_dir(folder)
    target = free_name(folder, month)
    os.rename(path, target)
    jsonl.fsync_dir(folder, fsync)
    jsonl.fsync_dir(path.parent, fsync)  # the live name is gone before a new one appears
    try:
        write_index(target, summarize(target, ROTATED[path.name][1]), fsync)
    except OSError as e:  # derived data: readers build it from the segment
        logging.getLogger("qtc.store").warning("Cannot write the index of %s: %s", target, e)
    return target


def index_path(segment: Path) -> Path:
    """The index file beside a segment."""
    return segment.with_name(segment.name[: -len(".jsonl")] + INDEX_SUFFIX)


@dataclass
class Summary:
    """What one segment holds: its size, its time range and the orders it mentions."""

    segment: str
    lines: int = 0
    bytes: int = 0
    first_time: str | None = None
    last_time: str | None = None
    min_time: str | None = None
    max_time: str | None = None
    order_ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The index file's content."""
        return {
            "segment": self.segment,
            "lines": self.lines,
            "bytes": self.bytes,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "min_time": self.min_time,
            "max_time": self.max_time,
            "order_ids": sorted(self.order_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """Read an index file's content."""
        return cls(
            segment=str(data["segment"]),
            lines=int(data["lines"]),
            bytes=int(data["bytes"]),
            first_time=data.get("first_time"),
            last_time=data.get("last_time"),
            min_time=data.get("min_time"),
            max_time=data.get("max_time"),
            order_ids={str(i) for i in data.get("order_ids") or ()},
        )


def summarize(segment: Path, time_field: str) -> Summary:
    """Read a segment once and say what it holds."""
    out = Summary(segment.name)
    log = logging.getLogger("qtc.store")
    out.bytes = segment.stat().st_size
    for obj in jsonl.read_lines(segment, log):
        out.lines += 1
        at = obj.get(time_field)
        if isinstance(at, str):
            out.first_time = out.first_time or at
            out.last_time = at
            out.min_time = at if out.min_time is None else min(out.min_time, at)
            out.max_time = at if out.max_time is None else max(out.max_time, at)
        for key in ("order_id", "broker_order_id"):
            if obj.get(key):
                out.order_ids.add(str(obj[key]))
    return out


def write_index(segment: Path, summary: Summary, fsync: jsonl.FsyncCounter) -> None:
    """Write a segment's index atomically."""
    jsonl.write_atomic_json(index_path(segment), summary.to_json(), fsync)


def index_is_current(segment: Path) -> bool:
    """True if the segment's index file exists and describes its present size."""
    try:
        data = json.loads(index_path(segment).read_text("utf-8"))
        return int(data["bytes"]) == segment.stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return False


def read_index(segment: Path, time_field: str) -> Summary:
    """A segment's index from its file, or built from the segment when missing or stale
    (never written here: readers may be read-only)."""
    try:
        summary = Summary.from_json(json.loads(index_path(segment).read_text("utf-8")))
        if summary.bytes == segment.stat().st_size:
            return summary
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return summarize(segment, time_field)


class SegmentIndexes:
    """Each team's segment indexes, cached until the segment folder changes."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[tuple[str, int], ...], list[tuple[Path, Summary]]]] = {}

    def summaries(self, team_dir: Path, kind: str, time_field: str) -> list[tuple[Path, Summary]]:
        """(segment, summary) of every closed segment of `kind`, oldest first."""
        paths = segment_paths(team_dir, kind)
        stamp = tuple((p.name, _size(p)) for p in paths)
        folder = segment_dir(team_dir, kind)
        cached = self._cache.get(folder)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        known = {p: s for p, s in cached[1]} if cached is not None else {}
        out = []
        for path in paths:
            summary = known.get(path)
            if summary is None or summary.bytes != _size(path):
                summary = read_index(path, time_field)
            out.append((path, summary))
        self._cache[folder] = (stamp, out)
        return out

    def holding(self, team_dir: Path, kind: str, time_field: str, order_id: str) -> Iterator[Path]:
        """The segments that mention `order_id`, newest first."""
        for path, summary in reversed(self.summaries(team_dir, kind, time_field)):
            if order_id in summary.order_ids:
                yield path


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1
