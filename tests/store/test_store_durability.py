"""The store never loses a line: failed appends leave no torn bytes, a line that lost only its
newline keeps its place, a partial one is kept in `.torn`, a bad ledger line stops the start."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from qtc.domain.enums import OrderType, Side
from qtc.store.errors import CorruptFile
from qtc.store.files import FileStore
from qtc.store.jsonl import append_line, read_lines, repair_tail
from qtc.store.records import TradeRecord

LOG = logging.getLogger("qtc.store.test")
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def trade(n: int, team: str = "alpha") -> TradeRecord:
    return TradeRecord(
        team_id=team,
        order_id=f"{team}-order-{n}",
        broker_order_id=f"b-{n}",
        execution_id=f"x-{n}",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(n + 1),
        execution_price=Decimal("100.25"),
        requested_price=Decimal(100),
        order_type=OrderType.MARKET,
        timestamp=T0,
        filled_qty=Decimal(n + 1),
    )


# Appends one long line under a file size limit just above the file's size: the kernel writes
# part of it and fails the rest with EFBIG (SIGXFSZ ignored), as a full disk would.
CHILD = """
import resource, signal, sys
from pathlib import Path
from qtc.store.jsonl import append_line, FsyncCounter
path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = path.stat().st_size + 100
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    append_line(path, {"pad": "x" * 1000}, FsyncCounter(), point="trades")
except OSError as e:
    print("failed", e.errno)
"""


def test_a_failed_append_leaves_no_torn_bytes_for_the_next_line(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.append_trade(trade(0))
    path = tmp_path / "team" / "alpha" / "trades.jsonl"
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.startswith("failed 27"), result.stdout + result.stderr  # EFBIG
    assert path.read_bytes() == before
    store.append_trade(trade(1))
    assert [r.order_id for r in store.load_trades("alpha")] == ["alpha-order-0", "alpha-order-1"]


def test_a_complete_last_line_without_its_newline_keeps_its_place(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.append_trade(trade(0))
    path = tmp_path / "team" / "alpha" / "trades.jsonl"
    path.write_bytes(path.read_bytes() + json.dumps(trade(1).to_json()).encode())  # no newline
    assert len(FileStore(tmp_path).load_trades("alpha")) == 2
    again = FileStore(tmp_path)
    again.append_trade(trade(2))
    assert [r.execution_id for r in again.load_trades("alpha")] == ["x-0", "x-1", "x-2"]
    assert not path.with_name("trades.jsonl.torn").exists()


def test_a_partial_last_line_is_moved_to_a_torn_file_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "errors.jsonl"
    append_line(path, {"a": 1}, None)
    path.write_bytes(path.read_bytes() + b'{"a": 2, "mess')
    with caplog.at_level(logging.WARNING):
        repair_tail(path, LOG)
    assert list(read_lines(path, LOG)) == [{"a": 1}]
    assert path.with_name("errors.jsonl.torn").read_bytes() == b'{"a": 2, "mess\n'
    assert "torn last line" in caplog.text and "errors.jsonl" in caplog.text
    append_line(path, {"a": 3}, None)
    assert list(read_lines(path, LOG)) == [{"a": 1}, {"a": 3}]


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json}\n",
        b'{"team_id": "alpha"}\n',
        None,  # a number no quantity can be
    ],
)
def test_a_bad_middle_ledger_line_stops_the_load_naming_file_and_line(
    tmp_path: Path, bad: bytes | None
) -> None:
    store = FileStore(tmp_path)
    store.append_trade(trade(0))
    path = tmp_path / "team" / "alpha" / "trades.jsonl"
    if bad is None:
        row = trade(1).to_json()
        row["execution_price"] = "1E+1000000"
        bad = (json.dumps(row) + "\n").encode()
    path.write_bytes(path.read_bytes() + bad)
    store.append_trade(trade(2))
    with pytest.raises(CorruptFile) as caught:
        FileStore(tmp_path).load_trades("alpha")
    assert caught.value.line == 2 and caught.value.path == path
    assert str(caught.value).startswith(f"{path} line 2:")


def test_store_files_and_folders_are_private(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "data")
    store.append_trade(trade(0))
    folder = tmp_path / "data" / "team" / "alpha"
    assert stat.S_IMODE((folder / "trades.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "team").stat().st_mode) == 0o700
