"""Team API keys: issued once, stored only as sha256 hashes in data/api_keys.json."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import secrets
import sys
import threading
from pathlib import Path

from qtc.domain.ids import valid_team_id
from qtc.store import jsonl

KEYS_FILE = "api_keys.json"
log = logging.getLogger("qtc.api")
_KEY_BYTES = 32


def hash_key(key: str) -> str:
    """The sha256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """team_id -> sha256(key), read from and written atomically to one JSON file.

    The file is re-read when it changes on disk, so a key issued by `qtc teams key` while the
    competition runs takes effect at once.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        # one tuple, swapped whole, so readers on other threads never see half a reload
        self._state: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._stamp: tuple[int, int] | None = None
        self._reload_if_changed(strict=True)

    @property
    def path(self) -> Path:
        return self._path

    def teams(self) -> list[str]:
        """Every team that has a key."""
        self._reload_if_changed()
        return sorted(self._state[0])

    def issue(self, team_id: str) -> str:
        """Create (or replace) the team's key; only its hash is written. Returns the key."""
        if not valid_team_id(team_id):
            raise ValueError(f"invalid team id {team_id!r} (1-21 letters, digits or _)")
        key = secrets.token_urlsafe(_KEY_BYTES)
        with self._lock:
            self._reload_if_changed()
            hashes = dict(self._state[0])
            hashes[team_id] = hash_key(key)
            self._write(hashes)
            self._set(hashes)
            self._stamp = self._file_stamp()
        return key

    def team_for(self, key: str) -> str | None:
        """The team owning `key`, or None."""
        self._reload_if_changed()
        hashes, team_by_hash = self._state
        digest = hash_key(key)
        team = team_by_hash.get(digest)
        if team is None:
            return None
        stored = hashes.get(team, "")
        return team if hmac.compare_digest(digest, stored) else None

    def verify(self, team_id: str, key: str) -> bool:
        """True if `key` is the team's key (constant-time comparison of the hashes)."""
        self._reload_if_changed()
        stored = self._state[0].get(team_id)
        digest = hash_key(key)
        if stored is None:
            # compare anyway so that an unknown team takes as long as a wrong key
            hmac.compare_digest(digest, digest)
            return False
        return hmac.compare_digest(digest, stored)

    def _set(self, hashes: dict[str, str]) -> None:
        self._state = (hashes, {h: t for t, h in hashes.items()})

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload_if_changed(self, strict: bool = False) -> None:
        """Re-read the file if it changed; a broken file fails at startup, later it keeps the
        keys already loaded (so one bad edit cannot lock every team out)."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        try:
            hashes = self._read() if stamp is not None else {}
        except (OSError, ValueError) as e:
            if strict:
                raise
            log.warning("Keeping the loaded API keys: cannot read %s (%s)", self._path, e)
            self._stamp = stamp
            return
        self._set(hashes)
        self._stamp = stamp

    def _read(self) -> dict[str, str]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{self._path} is not valid JSON ({e})") from e
        if not isinstance(raw, dict):
            raise ValueError(f"{self._path}: expected a JSON object of team_id -> sha256")
        return {str(t): str(h) for t, h in raw.items()}

    def _write(self, hashes: dict[str, str]) -> None:
        """The store's atomic JSON write (0600, fsynced, renamed, folder fsynced)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        jsonl.write_atomic_json(self._path, dict(sorted(hashes.items())), point="keys")


def issue_key_command(args: argparse.Namespace) -> int:
    """`qtc teams key TEAM [--data-dir DIR]`: issue a key and print it once."""
    try:
        store = KeyStore(Path(args.data_dir) / KEYS_FILE)
        key = store.issue(args.team_id)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(key)
    print(
        f"API key for team {args.team_id} (shown once; only its hash is kept in {store.path})",
        file=sys.stderr,
    )
    return 0
