"""The organisers' client scripts in tests/clients are theirs byte for byte."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
# the organisers' originals as given (shared/clients), by content
ORIGINALS = {
    "cancel_gtc_orders.py": "3b9a01ba39ae9f9f468ccc6e4de2bce7b630684dec06d074c1294f6f9418364b",
    "list_open_orders.sh": "eff488da953e6d2d328b6abc85ac875b15891e82a5adc334352685b4aec0ea99",
}
# where the organisers keep them beside a checkout (QTC_SHARED_CLIENTS: elsewhere)
SHARED = Path(
    os.environ.get("QTC_SHARED_CLIENTS", Path(__file__).resolve().parents[3] / "shared/clients")
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_copies_are_the_originals() -> None:
    assert {p.name: _digest(p) for p in CLIENTS.iterdir() if p.name in ORIGINALS} == ORIGINALS


def test_the_copies_match_the_organisers_folder_when_it_is_beside_the_checkout() -> None:
    # In a plain clone the organisers' folder is absent: the digests above are the check.
    # Beside it (as on the organisers' machines) any difference means one side changed.
    shared = {p.name: _digest(p) for p in SHARED.iterdir()} if SHARED.is_dir() else ORIGINALS
    assert {name: shared.get(name) for name in ORIGINALS} == ORIGINALS
