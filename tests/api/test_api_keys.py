"""Team keys: printed once by `qtc teams key`, stored only as a hash, checked in constant time."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qtc.api.keys import KeyStore
from qtc.cli import main


def test_cli_prints_the_key_once_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["teams", "key", "epsilon", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert len(key) >= 32 and "\n" not in key
    assert key not in out.err

    raw = (tmp_path / "api_keys.json").read_text()
    assert key not in raw
    assert json.loads(raw) == {"epsilon": hashlib.sha256(key.encode()).hexdigest()}

    store = KeyStore(tmp_path / "api_keys.json")
    assert store.verify("epsilon", key)
    assert store.team_for(key) == "epsilon"


def test_reissuing_replaces_the_old_key_and_keeps_other_teams(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "api_keys.json")
    first = store.issue("alpha")
    beta = store.issue("beta")
    second = store.issue("alpha")
    assert first != second
    assert not store.verify("alpha", first) and store.team_for(first) is None
    assert store.verify("alpha", second)
    assert store.verify("beta", beta)
    assert not store.verify("beta", second)
    assert not store.verify("gamma", second)


def test_a_running_server_sees_keys_issued_by_another_process(tmp_path: Path) -> None:
    server_view = KeyStore(tmp_path / "api_keys.json")
    assert server_view.teams() == []
    proc = subprocess.run(
        [sys.executable, "-m", "qtc", "teams", "key", "delta", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = proc.stdout.strip()
    assert server_view.verify("delta", key)
    assert key not in (tmp_path / "api_keys.json").read_text()


def test_invalid_team_ids_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["teams", "key", "no spaces", "--data-dir", str(tmp_path)]) == 2
    assert "invalid team id" in capsys.readouterr().err
    assert not (tmp_path / "api_keys.json").exists()


def test_a_broken_keys_file_fails_at_startup_but_not_later(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.json"
    store = KeyStore(path)
    key = store.issue("alpha")
    path.write_text("{not json")
    assert store.verify("alpha", key)  # the loaded keys stay in force
    with pytest.raises(ValueError):
        KeyStore(path)
