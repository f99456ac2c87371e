"""JSON Lines on disk: whole-line fsynced appends, atomic rewrites, torn-tail-tolerant reads."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from qtc.crashpoints import crash_point
from qtc.store.errors import CorruptFile

_BLOCK = 64 * 1024
_BISECTED = 1024  # bisecting stops within this many bytes of the line sought
FILE_MODE = 0o600  # data files are private to the organiser's account
DIR_MODE = 0o700


class FsyncCounter:
    """Counts fsync calls (the benchmark reports fsyncs per fill)."""

    def __init__(self) -> None:
        self.count = 0

    def fsync(self, fd: int) -> None:
        """fsync `fd` and count it."""
        os.fsync(fd)
        self.count += 1

    def sync_filesystem(self, folder: Path) -> None:
        """Make everything written to the filesystem holding `folder` durable in one call
        (Linux `syncfs`, which reports write-back errors since 5.8; elsewhere `sync`), and
        count it as one fsync: a batch of files costs one sync, not one each."""
        fd = os.open(folder, os.O_RDONLY)
        try:
            _syncfs(fd)
        finally:
            os.close(fd)
        self.count += 1


DEFAULT_FSYNC = FsyncCounter()


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return cast(Callable[[int], int], libc.syncfs)
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


def _syncfs(fd: int) -> None:
    if _SYNCFS is None:
        os.sync()
        return
    if _SYNCFS(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


def dumps(obj: Any) -> str:
    """One compact JSON line (no newline)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def repair_tail(path: Path, log: logging.Logger) -> None:
    """Make the file end on a whole line before the next append.

    A last line that is complete JSON but lost its newline (a write cut just before it) keeps
    its place: the newline is added. A truly partial last line is moved to `<file>.torn`
    beside it, with a warning, and cut: never silently dropped."""
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
        tail = f.read(size - keep)
        if _parse(tail) is not None:
            f.seek(size)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
            log.warning("Completed the last line of %s (its newline was missing)", path)
            return
        keep_torn(path, tail, log)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
        log.warning(
            "Moved the torn last line of %s (%d bytes) to %s.torn: %r",
            path,
            size - keep,
            path.name,
            tail[:200],
        )


def keep_torn(path: Path, raw: bytes, log: logging.Logger) -> None:
    """Append bytes that could not be read to `<file>.torn` (fsynced), so nothing is lost."""
    torn = path.with_name(path.name + ".torn")
    data = raw if raw.endswith(b"\n") else raw + b"\n"
    fd = os.open(torn, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[written:]


def _point(point: str | None, step: str) -> None:
    if point is not None:
        crash_point(f"{point}.{step}")


def append_line(
    path: Path, obj: Any, fsync: FsyncCounter | None, *, point: str | None = None
) -> None:
    """Append one whole line; with `fsync`, it is on stable storage when this returns."""
    append_lines(path, [obj], fsync, point=point)


def append_lines(
    path: Path, objs: Iterable[Any], fsync: FsyncCounter | None, *, point: str | None = None
) -> None:
    """Append whole lines in one write; with `fsync`, all are on stable storage when this
    returns (one fsync for the batch: a group commit).

    On any OSError (a full disk, EIO, a file size limit) the file is cut back to where it was,
    so no torn bytes stay for the next line to be glued to, and the error is raised: the
    change was not made durable and must not be acknowledged."""
    data = "".join(dumps(obj) + "\n" for obj in objs).encode("utf-8")
    _point(point, "before_append")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            _point(point, "written")
            if fsync is not None:
                fsync.fsync(fd)
        except OSError:
            _cut_back(fd, start)
            raise
        _point(point, "synced")
    finally:
        os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        # the tail is repaired (moved to .torn) before the next append of a restarted process
        pass


def write_atomic(
    path: Path,
    objs: Iterable[Any],
    fsync: FsyncCounter,
    *,
    sync_dir: bool = True,
    point: str | None = None,
) -> None:
    """Replace `path` with these lines: write a temp file, fsync, rename, fsync the folder
    (`sync_dir`; without it a power loss may leave the previous complete version)."""
    data = "".join(dumps(o) + "\n" for o in objs).encode("utf-8")
    write_atomic_bytes(path, data, fsync, sync_dir=sync_dir, point=point)


def write_atomic_json(
    path: Path, obj: Any, fsync: FsyncCounter | None = None, *, point: str | None = None
) -> None:
    """Replace `path` with one JSON document, durably (temp, fsync, rename, fsync folder)."""
    data = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8")
    write_atomic_bytes(path, data, fsync or DEFAULT_FSYNC, point=point)


def write_atomic_bytes(
    path: Path,
    data: bytes,
    fsync: FsyncCounter,
    *,
    sync_dir: bool = True,
    point: str | None = None,
) -> None:
    """The one atomic rewrite: temp file (0600), fsync, rename over `path`, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        _write_all(fd, data)
        fsync.fsync(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    _point(point, "tmp_written")
    os.replace(tmp, path)
    _point(point, "renamed")
    if sync_dir:
        fsync_dir(path.parent, fsync)


def write_atomic_many(
    files: Mapping[Path, bytes], fsync: FsyncCounter, *, point: str | None = None
) -> None:
    """Replace several files at once, durably, with two syncs whatever their number: every
    temp file is written, one filesystem sync makes them durable, each is renamed over its
    file, and one more sync makes the renames durable. A crash leaves each file either old or
    new, never torn. On OSError no file has been replaced."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            written.append((tmp, path))
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        if written:
            fsync.sync_filesystem(written[0][0].parent)
    except OSError:
        for tmp, _ in written:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    _point(point, "tmp_written")
    for tmp, path in written:
        os.replace(tmp, path)
    _point(point, "renamed")
    if written:
        fsync.sync_filesystem(written[0][1].parent)


def make_private_dir(folder: Path) -> None:
    """Create `folder` (and parents) as 0700 if it is missing."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        with contextlib.suppress(OSError):
            folder.chmod(DIR_MODE)


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
    warning (they stay in the file)."""
    for _, obj in read_numbered(path, log):
        yield obj


def read_numbered(
    path: Path, log: logging.Logger, *, strict: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every JSON object line of `path`, oldest first.

    A torn last line (a crash mid-append: no newline, not JSON) is skipped with a warning; it
    is moved to `.torn` before the next append. Any other unreadable line is a warning too, or
    with `strict` a CorruptFile naming the file and the line."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        for number, raw in enumerate(f, start=1):
            obj = _parse(raw)
            if obj is not None:
                yield number, obj
                continue
            if not raw.strip():
                continue
            torn = not raw.endswith(b"\n")
            if strict and not torn:
                raise CorruptFile(path, number, f"not a JSON object: {raw[:120]!r}")
            log.warning(
                "Skipping %s line %d of %s: %r",
                "torn last" if torn else "unreadable",
                number,
                path,
                raw[:200],
            )


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


def read_lines_from(
    path: Path,
    log: logging.Logger,
    earlier: Callable[[dict[str, Any]], bool],
    offset: int = 0,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, object) of every JSON object line of `path` in order, starting near the first
    line that is not `earlier`, found by bisecting byte offsets from `offset` (a line start
    with only `earlier` lines before it, e.g. from a previous read of a file that only grows).

    The lines must be sorted by `earlier` (all True, then all False), as a file appended in
    time order is by "older than t"; the caller still filters what it yields. A torn last
    line is skipped with a warning, as by `read_numbered`."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return
    with f:
        size = f.seek(0, os.SEEK_END)
        at = _first_not_earlier(f, min(offset, size), size, earlier)
        f.seek(at)
        for raw in f:
            obj = _parse(raw)
            if obj is not None:
                yield at, obj
            elif raw.strip():
                torn = not raw.endswith(b"\n")
                log.warning(
                    "Skipping %s line of %s: %r", "torn last" if torn else "unreadable", path,
                    raw[:200],
                )  # fmt: skip
            at += len(raw)


def _first_not_earlier(
    f: Any, lo: int, size: int, earlier: Callable[[dict[str, Any]], bool]
) -> int:
    """The start of a line at or before the first whole line that is not `earlier`."""
    hi = size  # lo: a line start with only earlier lines before it
    while hi - lo > _BISECTED:
        mid = (lo + hi) // 2
        f.seek(mid)
        f.readline()  # the rest of the line `mid` falls in
        start = f.tell()
        obj = _parse(f.readline())
        if obj is not None and earlier(obj):
            lo = start
        else:
            hi = mid
    return lo
