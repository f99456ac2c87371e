"""A team's strategy versions: immutable folders `strategies/v{n}/` and one `active.json` pointer.

A version is written whole into a private temporary folder, every file fsynced, then renamed
into place and the parent folder fsynced: a crash leaves either no version or a whole one (a
stale temporary folder is removed at the next write). Which version runs is one small JSON
file replaced atomically, so a crash leaves the old pointer or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from qtc.crashpoints import crash_point
from qtc.store.jsonl import (
    DEFAULT_FSYNC,
    FILE_MODE,
    FsyncCounter,
    _write_all,
    fsync_dir,
    make_private_dir,
    write_atomic_json,
)

STRATEGIES = "strategies"
ACTIVE = "active.json"
VERSION_FILE = "version.json"
_VERSION_DIR = re.compile(r"^v([1-9][0-9]{0,8})$")
_HISTORY_KEPT = 100  # the versions a rollback can walk back through


class VersionError(Exception):
    """A version that does not exist, or a pointer that cannot move as asked."""


@dataclass(frozen=True, slots=True)
class StrategyVersion:
    """One stored version: its number, content hash, time, size, entry point and author."""

    team_id: str
    n: int
    sha256: str
    created_at: str
    size: int
    entry: str
    params: dict[str, Any]
    uploaded_by: str
    path: Path
    files: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        return self.entry.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.entry.partition(":")[2]

    def describe(self) -> dict[str, Any]:
        """The version as `GET .../strategy` and `qtc strategies list` show it."""
        return {
            "version": self.n,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "size": self.size,
            "entry": self.entry,
            "params": dict(self.params),
            "uploaded_by": self.uploaded_by,
            "files": list(self.files),
        }


def content_hash(files: Mapping[str, bytes]) -> str:
    """sha256 over every (path, content) pair in path order: equal trees, equal hashes."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


class VersionStore:
    """`data/team/{team_id}/strategies/`: add versions, read them, move the active pointer."""

    def __init__(self, data_dir: Path, fsync: FsyncCounter | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.fsync = fsync or DEFAULT_FSYNC

    def folder(self, team_id: str) -> Path:
        """Where a team's versions live."""
        return self.data_dir / "team" / team_id / STRATEGIES

    def versions(self, team_id: str) -> list[StrategyVersion]:
        """Every whole version of the team, oldest first."""
        folder = self.folder(team_id)
        if not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            match = _VERSION_DIR.match(child.name)
            if match is not None and child.is_dir():
                version = self._read(team_id, int(match.group(1)))
                if version is not None:
                    found.append(version)
        return sorted(found, key=lambda v: v.n)

    def get(self, team_id: str, n: int) -> StrategyVersion | None:
        """Version `n` of the team, or None."""
        return self._read(team_id, n)

    def _read(self, team_id: str, n: int) -> StrategyVersion | None:
        path = self.folder(team_id) / f"v{n}"
        try:
            meta = json.loads((path / VERSION_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return StrategyVersion(
            team_id=team_id,
            n=int(meta["n"]),
            sha256=str(meta["sha256"]),
            created_at=str(meta["created_at"]),
            size=int(meta["size"]),
            entry=str(meta["entry"]),
            params=dict(meta.get("params") or {}),
            uploaded_by=str(meta.get("uploaded_by", "")),
            path=path,
            files=list(meta.get("files") or []),
        )

    def pointer(self, team_id: str) -> dict[str, Any] | None:
        """The raw `active.json` ({version, history, activated_at, by}), or None."""
        try:
            raw = json.loads((self.folder(team_id) / ACTIVE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) and isinstance(raw.get("version"), int) else None

    def active(self, team_id: str) -> StrategyVersion | None:
        """The version the team runs (None: the team has no version yet)."""
        pointer = self.pointer(team_id)
        if pointer is None:
            return None
        return self._read(team_id, pointer["version"])

    def add(
        self,
        team_id: str,
        files: Mapping[str, bytes],
        *,
        entry: str,
        params: Mapping[str, Any],
        uploaded_by: str,
        now: datetime,
    ) -> StrategyVersion:
        """Store `files` ({relative posix path: content}) as the next version, whole or not
        at all. The active pointer does not move."""
        with self._locked(team_id) as folder:
            self._remove_stale(folder)
            existing = [v.n for v in self.versions(team_id)]
            n = max(existing, default=0) + 1
            tmp = folder / f".v{n}.tmp"
            make_private_dir(tmp)
            names = sorted(files)
            for name in names:
                self._write_file(tmp, name, files[name])
            meta = {
                "n": n,
                "sha256": content_hash(files),
                "created_at": now.isoformat(),
                "size": sum(len(data) for data in files.values()),
                "entry": entry,
                "params": dict(params),
                "uploaded_by": uploaded_by,
                "files": names,
            }
            self._write_file(tmp, VERSION_FILE, (json.dumps(meta, indent=1) + "\n").encode())
            self._sync_tree(tmp)
            crash_point("strategy_version.tmp_written")
            os.rename(tmp, folder / f"v{n}")
            fsync_dir(folder, self.fsync)
            crash_point("strategy_version.renamed")
        version = self._read(team_id, n)
        assert version is not None
        return version

    def activate(self, team_id: str, n: int, *, by: str, now: datetime) -> StrategyVersion:
        """Point the team at version `n` (the run swaps to it at its next minute)."""
        with self._locked(team_id):
            version = self._read(team_id, n)
            if version is None:
                raise VersionError(f"team {team_id} has no strategy version {n}")
            pointer = self.pointer(team_id)
            history: list[int] = list(pointer.get("history", [])) if pointer else []
            if pointer is not None and pointer["version"] != n:
                history.append(pointer["version"])
            self._point(team_id, n, history, by, now)
        return version

    def rollback(self, team_id: str, *, by: str, now: datetime) -> StrategyVersion:
        """Return to the version that was active before the current one."""
        with self._locked(team_id):
            pointer = self.pointer(team_id)
            if pointer is None:
                raise VersionError(f"team {team_id} has no active strategy version")
            history = [int(n) for n in pointer.get("history", [])]
            while history and history[-1] == pointer["version"]:
                history.pop()
            if not history:
                raise VersionError(f"team {team_id} has no earlier strategy version to return to")
            n = history.pop()
            version = self._read(team_id, n)
            if version is None:
                raise VersionError(f"team {team_id} has no strategy version {n}")
            self._point(team_id, n, history, by, now)
        return version

    def _point(self, team_id: str, n: int, history: list[int], by: str, now: datetime) -> None:
        document = {
            "version": n,
            "history": history[-_HISTORY_KEPT:],
            "activated_at": now.isoformat(),
            "by": by,
        }
        write_atomic_json(self.folder(team_id) / ACTIVE, document, self.fsync, point="active")

    @contextlib.contextmanager
    def _locked(self, team_id: str) -> Iterator[Path]:
        """One writer at a time per team, across processes (the run's API and the CLI)."""
        folder = self.folder(team_id)
        make_private_dir(folder)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield folder
        finally:
            os.close(fd)

    def _remove_stale(self, folder: Path) -> None:
        """Temporary folders left by a crash mid-write: never a version, safe to drop."""
        for child in folder.iterdir():
            if child.name.startswith(".v") and child.name.endswith(".tmp"):
                shutil.rmtree(child, ignore_errors=True)

    def _write_file(self, root: Path, name: str, data: bytes) -> None:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise VersionError(f"refusing to store {name!r}")
        target = root.joinpath(*relative.parts)
        make_private_dir(target.parent)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            _write_all(fd, data)
            self.fsync.fsync(fd)
        finally:
            os.close(fd)

    def _sync_tree(self, root: Path) -> None:
        """fsync every folder of the new version, deepest first (their entries are durable)."""
        folders = [Path(dirpath) for dirpath, _, _ in os.walk(root)]
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder, self.fsync)
