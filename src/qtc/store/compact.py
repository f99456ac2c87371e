"""Offline rotation of a stopped competition's files into monthly segments (`qtc compact`).

A running competition rotates its own live files at the first line of each new month (see
`segments`); this does the same for files it never rotated (a run that stopped within the
month, or files from before rotation existed), and packs closed months of daily portfolio
snapshots into `segments/portfolio/YYYY-MM.jsonl`. The caller owns the data directory.

Splitting a live file is made crash-safe by its order of steps: every closed piece is written
as `segments/{kind}/NAME.jsonl.part` (fsynced), then the rest of the live file as
`{live}.rest` — its existence is the commit — then the parts get their names and the rest
replaces the live file. `recover` finishes an interrupted split (with `.rest`) or undoes it
(parts without `.rest`), so no line is ever lost or held twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from qtc.store import jsonl, segments

PART = ".part"
REST = ".rest"
_DAY_FILE = 10  # "YYYY-MM-DD"


@dataclass
class Compacted:
    """What compacting one team did."""

    segments: list[Path] = field(default_factory=list)
    packed_days: int = 0


def recover(team_dir: Path, fsync: jsonl.FsyncCounter, log: logging.Logger) -> None:
    """Finish or undo a split that a crash interrupted (before anything reads the files)."""
    for live_name, (kind, _) in segments.ROTATED.items():
        folder = segments.segment_dir(team_dir, kind)
        rest = team_dir / (live_name + REST)
        parts = sorted(folder.glob("*" + PART)) if folder.is_dir() else []
        if not rest.exists():
            for part in parts:
                part.unlink()
                log.warning("Removed %s, left by an interrupted qtc compact", part)
            continue
        for part in parts:
            os.rename(part, part.with_name(part.name[: -len(PART)]))
        if parts:
            jsonl.fsync_dir(folder, fsync)
        os.replace(rest, team_dir / live_name)
        jsonl.fsync_dir(team_dir, fsync)
        log.warning("Finished the interrupted rotation of %s", team_dir / live_name)


def compact_team(
    team_dir: Path, current_month: str, fsync: jsonl.FsyncCounter, log: logging.Logger
) -> Compacted:
    """Rotate every month before `current_month` out of the team's live files."""
    recover(team_dir, fsync, log)
    done = Compacted()
    for live_name, (kind, time_field) in segments.ROTATED.items():
        done.segments += _split(team_dir, live_name, kind, time_field, current_month, fsync)
        for segment in segments.segment_paths(team_dir, kind):
            if not segments.index_is_current(segment):
                segments.write_index(segment, segments.summarize(segment, time_field), fsync)
    done.packed_days = _pack_days(team_dir, current_month, fsync, done)
    return done


def _pieces(data: bytes, time_field: str) -> list[tuple[str | None, int, int]]:
    """(month, start, end) of each run of lines the in-run rule would put in one segment:
    a new run starts at a line of a later month than the run's first line."""
    pieces: list[tuple[str | None, int, int]] = []
    start = 0
    month: str | None = None
    pos = 0
    for raw in data.splitlines(keepends=True):
        try:
            line_month = segments.line_month(json.loads(raw), time_field)
        except (ValueError, UnicodeDecodeError):
            line_month = None
        if line_month is not None:
            if month is None:
                month = line_month
            elif line_month > month:
                pieces.append((month, start, pos))
                start, month = pos, line_month
        pos += len(raw)
    if pos > start:
        pieces.append((month, start, pos))
    return pieces


def _split(
    team_dir: Path,
    live_name: str,
    kind: str,
    time_field: str,
    current_month: str,
    fsync: jsonl.FsyncCounter,
) -> list[Path]:
    live = team_dir / live_name
    try:
        data = live.read_bytes()
    except FileNotFoundError:
        return []
    if data and not data.endswith(b"\n"):
        return []  # a torn tail: the next run repairs it first (moved to .torn), then rotate
    closed = []
    cut = 0
    for month, start, end in _pieces(data, time_field):
        if month is None or month >= current_month:
            break
        closed.append((month, start, end))
        cut = end
    if not closed:
        return []
    folder = segments.segment_dir(team_dir, kind)
    jsonl.make_private_dir(folder)
    names: list[Path] = []
    for month, start, end in closed:
        name = segments.free_name(folder, month)  # distinct: the pieces' months only grow
        names.append(name)
        part = name.with_name(name.name + PART)
        jsonl.write_atomic_bytes(part, data[start:end], fsync)
    jsonl.write_atomic_bytes(team_dir / (live_name + REST), data[cut:], fsync)
    log = logging.getLogger("qtc.store")
    recover(team_dir, fsync, log)
    return names


def _pack_days(
    team_dir: Path, current_month: str, fsync: jsonl.FsyncCounter, done: Compacted
) -> int:
    """Daily snapshot files of closed months become one segment per month."""
    days = team_dir / "portfolio"
    by_month: dict[str, list[Path]] = {}
    for path in sorted(days.glob("*.jsonl")) if days.is_dir() else []:
        stem = path.name[: -len(".jsonl")]
        if len(stem) == _DAY_FILE and stem[:7] < current_month:
            by_month.setdefault(stem[:7], []).append(path)
    folder = segments.segment_dir(team_dir, "portfolio")
    packed = 0
    for month, paths in sorted(by_month.items()):
        target = folder / f"{month}.jsonl"
        if not target.exists():  # else: packed before, and these days are its leftovers
            jsonl.make_private_dir(folder)
            data = b"".join(_whole_lines(p.read_bytes()) for p in paths)
            jsonl.write_atomic_bytes(target, data, fsync)
            segments.write_index(target, segments.summarize(target, "timestamp"), fsync)
            done.segments.append(target)
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            packed += 1
        jsonl.fsync_dir(days, fsync)
    return packed


def _whole_lines(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"
