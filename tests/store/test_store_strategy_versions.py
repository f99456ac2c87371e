"""Strategy versions on disk: immutable folders, a pointer replaced atomically, rollback."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qtc.store.strategy_versions import VersionError, VersionStore, content_hash

NOW = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)


def _add(store: VersionStore, body: bytes, team: str = "alpha") -> int:
    files = {"strategy.py": body, "lib/helpers.py": b"X = 1\n"}
    version = store.add(
        team, files, entry="strategy:Strategy", params={"w": 2}, uploaded_by="t", now=NOW
    )
    return version.n


def test_versions_are_whole_private_folders_with_their_metadata(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    assert _add(store, b"A = 1\n") == 1 and _add(store, b"A = 2\n") == 2
    folder = tmp_path / "team" / "alpha" / "strategies" / "v2"
    meta = json.loads((folder / "version.json").read_text())
    files = {"strategy.py": b"A = 2\n", "lib/helpers.py": b"X = 1\n"}
    assert meta == {
        "n": 2, "sha256": content_hash(files), "created_at": NOW.isoformat(), "size": 12,
        "entry": "strategy:Strategy", "params": {"w": 2}, "uploaded_by": "t",
        "files": ["lib/helpers.py", "strategy.py"],
    }  # fmt: skip
    assert (folder / "lib" / "helpers.py").read_bytes() == b"X = 1\n"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "strategy.py").stat().st_mode) == 0o600
    assert store.active("alpha") is None  # storing does not activate


def test_activate_and_rollback_walk_the_pointer(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    for body in (b"1", b"2", b"3"):
        _add(store, body)
    with pytest.raises(VersionError):
        store.rollback("alpha", by="t", now=NOW)
    for n in (1, 3, 2):
        store.activate("alpha", n, by="t", now=NOW)
    assert store.rollback("alpha", by="t", now=NOW).n == 3
    assert store.rollback("alpha", by="t", now=NOW).n == 1
    with pytest.raises(VersionError, match="no earlier"):
        store.rollback("alpha", by="t", now=NOW)
    with pytest.raises(VersionError, match="no strategy version 9"):
        store.activate("alpha", 9, by="t", now=NOW)
    assert store.active("alpha").n == 1  # a refused move changes nothing


def test_a_half_written_version_is_never_seen_and_is_cleared(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    _add(store, b"1")
    stale = store.folder("alpha") / ".v2.tmp"
    stale.mkdir()
    (stale / "strategy.py").write_bytes(b"half")
    assert [v.n for v in store.versions("alpha")] == [1]
    assert _add(store, b"2") == 2
    assert not stale.exists()
    assert (store.folder("alpha") / "v2" / "strategy.py").read_bytes() == b"2"


def test_a_path_out_of_the_version_is_refused(tmp_path: Path) -> None:
    store = VersionStore(tmp_path)
    with pytest.raises(VersionError):
        store.add("alpha", {"../x.py": b""}, entry="x:Y", params={}, uploaded_by="t", now=NOW)
    assert store.versions("alpha") == []
