"""Where a run got to: the data directory's lock, `run_state.json`, and what else records it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qtc.domain.times import MINUTE
from qtc.store import jsonl

LOCK_FILE = ".qtc.lock"
PROGRESS_FILE = "run_state.json"
_SCAN_TAIL = 50  # ledger lines read from the end of each file when recovering progress
log = logging.getLogger("qtc.run")


class StartupError(Exception):
    """The run cannot start; the message says why and what to do."""


class DataDirLock:
    """An exclusive `flock` on `<data-dir>/.qtc.lock`, which holds the owner's pid."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Own `data_dir` (created if missing) or raise StartupError, having written nothing."""
        if data_dir.exists() and not data_dir.is_dir():
            raise StartupError(f"data directory {data_dir} is a file, not a directory")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StartupError(f"cannot create data directory {data_dir} ({e.strerror})") from e
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise StartupError(f"data directory {data_dir} is not writable")
        path = data_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StartupError(f"cannot lock data directory {data_dir} ({e.strerror})") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                f"data directory {data_dir} is in use by another qtc run (pid {holder})"
            ) from e
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as e:
            os.close(fd)
            raise StartupError(f"data directory {data_dir} is not writable ({e.strerror})") from e
        return cls(path, fd)

    def clear_folder(self) -> None:
        """Delete everything in the data directory but the lock (a fresh demo)."""
        import shutil

        for entry in self.path.parent.iterdir():
            if entry == self.path:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def release(self) -> None:
        # the file stays: unlinking it would let a waiting run lock a file nobody else sees
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_holder(data_dir: Path) -> int | None:
    """The pid of the run holding the data directory's lock, found in /proc/locks without
    taking any lock (so a reader never stands in a starting run's way); None when nobody
    holds it. The lock file names its last owner; that pid must hold a flock on the file."""
    path = data_dir / LOCK_FILE
    try:
        st = path.stat()
        owner = path.read_text(encoding="ascii", errors="replace").strip()
        lines = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:131090 0 EOF" (a waiter reads "1: -> FLOCK")
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[4] != owner:
            continue
        # overlay filesystems may show the lower device: then the inode must match
        if fields[5] == device or fields[5].rsplit(":", 1)[-1] == str(st.st_ino):
            with contextlib.suppress(ValueError):
                return int(owner)
    return None


def read_progress(data_dir: Path) -> tuple[datetime | None, str | None]:
    """The next minute `run_state.json` records, and why it could not be read (if it exists
    and is unreadable)."""
    path = data_dir / PROGRESS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, f"{path} cannot be read ({e.strerror})"
    try:
        raw = json.loads(text)
        moment = datetime.fromisoformat(raw["next_minute"])
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment.astimezone(UTC), None
    except (ValueError, KeyError, TypeError) as e:
        return None, f"{path} is unreadable ({type(e).__name__}: {e})"


def save_progress(data_dir: Path, next_minute: datetime) -> None:
    """Durably record the next minute to run (temp, fsync, rename, fsync the folder)."""
    write_json(data_dir / PROGRESS_FILE, {"next_minute": next_minute.isoformat()}, "run_state")


def write_json(path: Path, obj: Any, point: str) -> None:
    """The store's atomic JSON write, with crash points `<point>.tmp_written`/`.renamed`."""
    jsonl.write_atomic_json(path, obj, point=point)


def minute_after(moment: datetime) -> datetime:
    """The first minute that starts at or after `moment`."""
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + MINUTE


def recorded_in_ledgers(data_dir: Path) -> datetime | None:
    """The latest timestamp in any team's trades.jsonl or portfolio snapshots."""
    teams = data_dir / "team"
    if not teams.is_dir():
        return None
    latest: datetime | None = None
    for folder in teams.iterdir():
        files = [folder / "trades.jsonl"]
        days = sorted((folder / "portfolio").glob("*.jsonl"))
        files += days[-1:]
        for path in files:
            if not path.is_file():
                continue
            for row in jsonl.read_last(path, _SCAN_TAIL, log):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    moment = datetime.fromisoformat(str(row["timestamp"]))
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=UTC)
                    if latest is None or moment > latest:
                        latest = moment.astimezone(UTC)
    return latest


def journal_last_minute(path: Path) -> datetime | None:
    """The last minute the simulated exchange's journal says it matched."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    last: datetime | None = None
    with f:
        for raw in f:
            if b'"op":"minute"' not in raw:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                last = datetime.fromisoformat(json.loads(raw)["minute"]).astimezone(UTC)
    return last
