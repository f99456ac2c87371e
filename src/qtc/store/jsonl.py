"""JSON Lines on disk: whole-line fsynced appends, atomic rewrites, torn-tail-tolerant reads."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_BLOCK = 64 * 1024


class FsyncCounter:
    """Counts fsync calls (the benchmark reports fsyncs per fill)."""

    def __init__(self) -> None:
        self.count = 0

    def fsync(self, fd: int) -> None:
        """fsync `fd` and count it."""
        os.fsync(fd)
        self.count += 1


def dumps(obj: Any) -> str:
    """One compact JSON line (no newline)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def repair_tail(path: Path, log: logging.Logger) -> None:
    """Cut a torn last line (a crash mid-append) so the next append starts on a fresh line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with path.open("rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        keep = _last_newline_end(f, size)
        f.seek(keep)
        torn = f.read(200)
        log.warning("Skipping torn last line of %s (%d bytes): %r", path, size - keep, torn)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())


def _last_newline_end(f: Any, size: int) -> int:
    """Offset just past the last newline before `size` (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        f.seek(start)
        chunk: bytes = f.read(pos - start)
        idx = chunk.rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def append_line(path: Path, obj: Any, fsync: FsyncCounter | None) -> None:
    """Append one whole line; with `fsync`, it is on stable storage when this returns."""
    data = (dumps(obj) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        while written < len(data):
            written += os.write(fd, data[written:])
        if fsync is not None:
            fsync.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, objs: Iterable[Any], fsync: FsyncCounter, *, sync_dir: bool = True
) -> None:
    """Replace `path` with these lines: write a temp file, fsync, rename, fsync the folder
    (`sync_dir`; without it a power loss may leave the previous complete version)."""
    tmp = path.with_name(path.name + ".tmp")
    data = "".join(dumps(o) + "\n" for o in objs).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        fsync.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent, fsync)


def remove_durably(path: Path, fsync: FsyncCounter | None) -> None:
    """Delete `path` (if there); with `fsync`, make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    if fsync is not None:
        fsync_dir(path.parent, fsync)


def fsync_dir(folder: Path, fsync: FsyncCounter) -> None:
    """Make a rename or unlink inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fsync.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: Path, log: logging.Logger) -> Iterator[dict[str, Any]]:
    """Every JSON object line of `path`, oldest first; unreadable lines are skipped with a
    warning (a torn last line is the expected case after a crash)."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, raw in enumerate(f, start=1):
            obj = _parse(raw)
            if obj is None:
                if raw.strip():
                    torn = not raw.endswith(b"\n")
                    log.warning(
                        "Skipping %s line %d of %s: %r",
                        "torn last" if torn else "unreadable",
                        number,
                        path,
                        raw[:200],
                    )
                continue
            yield obj


def read_last(path: Path, limit: int, log: logging.Logger) -> list[dict[str, Any]]:
    """The last `limit` readable lines of `path`, newest first, reading backwards in blocks
    (cost grows with `limit`, not with the file)."""
    if limit <= 0:
        return []
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    with f:
        pos = f.seek(0, os.SEEK_END)
        tail = b""
        while pos > 0 and len(out) < limit:
            start = max(0, pos - _BLOCK)
            f.seek(start)
            buf = f.read(pos - start) + tail
            pos = start
            lines = buf.split(b"\n")
            # the first piece may be the end of a line that starts in an earlier block
            tail = lines.pop(0) if pos > 0 else b""
            for raw in reversed(lines):
                if len(out) >= limit:
                    break
                _collect(raw, out, path, log)
        if tail and len(out) < limit:
            _collect(tail, out, path, log)
    return out


def _collect(raw: bytes, out: list[dict[str, Any]], path: Path, log: logging.Logger) -> None:
    if not raw.strip():
        return
    obj = _parse(raw)
    if obj is None:
        log.warning("Skipping unreadable line of %s: %r", path, raw[:200])
    else:
        out.append(obj)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None
