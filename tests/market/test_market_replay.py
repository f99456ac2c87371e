"""Replaying bars from CSV and Parquet files, and clear errors for bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from qtc.domain.market import Bar
from qtc.market.replay import ReplayMarket

HEADER = "timestamp,symbol,open,high,low,close,volume\n"
ROWS = [
    "2025-03-10T13:30:00Z,AAPL,230.105,231.00,229.50,230.75,12000\n",
    "2025-03-10T09:31:00-04:00,AAPL,230.75,232.00,230.10,231.50,9000\n",
    "2025-03-10T13:30:00+00:00,BTC/USD,80000.12,80100,79900,80050.5,1.2345\n",
    "2025-03-10T13:32:00Z,AAPL,231.50,231.60,231.00,231.10,8000\n",
]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(rows))
    return path


def test_csv_round_trip_keeps_exact_decimals_and_normalizes_offsets(tmp_path: Path) -> None:
    market = ReplayMarket.from_files([write_csv(tmp_path / "bars.csv", ROWS)])
    assert market.universe == ["AAPL", "BTC/USD"]
    first = market.bars_at(utc(2025, 3, 10, 13, 30))
    assert first["AAPL"] == Bar(
        symbol="AAPL",
        timestamp=utc(2025, 3, 10, 13, 30),
        open=Decimal("230.105"),
        high=Decimal("231"),
        low=Decimal("229.5"),
        close=Decimal("230.75"),
        volume=Decimal(12000),
    )
    assert first["BTC/USD"].volume == Decimal("1.2345")
    # 09:31 New York daylight time is 13:31 UTC
    assert set(market.bars_at(utc(2025, 3, 10, 13, 31))) == {"AAPL"}
    assert market.bars_at(utc(2025, 3, 10, 13, 33)) == {}
    history = market.history("AAPL", utc(2025, 3, 10, 13, 32), 5)
    assert [b.close for b in history] == [Decimal("230.75"), Decimal("231.5")]
    assert market.last_price("AAPL", utc(2025, 3, 11)) == Decimal("231.1")
    assert market.last_price("AAPL", utc(2025, 3, 10, 13, 30)) is None
    assert market.last_price("MSFT", utc(2025, 3, 11)) is None
    assert market.first_minute == utc(2025, 3, 10, 13, 30)
    assert market.last_minute == utc(2025, 3, 10, 13, 32)


def test_parquet_round_trip_equals_csv(tmp_path: Path) -> None:
    csv_market = ReplayMarket.from_files([write_csv(tmp_path / "bars.csv", ROWS)])
    frame = pd.read_csv(tmp_path / "bars.csv", dtype=str)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame.to_parquet(tmp_path / "bars.parquet")
    parquet_market = ReplayMarket.from_files([tmp_path / "bars.parquet"])
    for minute in (utc(2025, 3, 10, 13, m) for m in range(30, 33)):
        assert parquet_market.bars_at(minute) == csv_market.bars_at(minute)


def test_parquet_with_float_columns_reads_clean_decimals(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2025-03-10T13:30:00Z"], utc=True),
            "symbol": ["SPY"],
            "open": [0.1 + 0.2],
            "high": [1.0],
            "low": [0.25],
            "close": [0.5],
            "volume": [100.0],
        }
    )
    frame.to_parquet(tmp_path / "floats.parquet")
    bar = ReplayMarket.from_files([tmp_path / "floats.parquet"]).bars_at(utc(2025, 3, 10, 13, 30))
    assert bar["SPY"].open == Decimal("0.3") and str(bar["SPY"].open) == "0.3"


def test_several_files_merge(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", ROWS[:2])
    b = write_csv(tmp_path / "b.csv", ROWS[2:])
    market = ReplayMarket.from_files([a, b])
    assert len(market.history("AAPL", utc(2025, 3, 11), 10)) == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2025-03-10T13:33:00Z,AAPL,abc,1,1,1,1\n", "line 3: open: 'abc' is not a number"),
        ("2025-03-10T13:33:00,AAPL,1,1,1,1,1\n", "line 3: timestamp .* has no timezone"),
        ("yesterday,AAPL,1,1,1,1,1\n", "line 3: timestamp 'yesterday' is not ISO-8601"),
        ("2025-03-10T13:33:30Z,AAPL,1,1,1,1,1\n", "not the start of a minute"),
        ("2025-03-10T13:33:00Z,,1,1,1,1,1\n", "line 3: symbol is empty"),
        ("2025-03-10T13:33:00Z,AAPL,1,2,1.5,1,1\n", "line 3: inconsistent prices"),
        ("2025-03-10T13:33:00Z,AAPL,0,1,0,1,1\n", "line 3: open must be positive"),
        ("2025-03-10T13:33:00Z,AAPL,1,1,1,1,-5\n", "line 3: volume must not be negative"),
        ("2025-03-10T13:33:00Z,AAPL,1,1,1,1,\n", "line 3: volume: '' is not a number"),
        ("2025-03-10T13:30:00Z,AAPL,1,1,1,1,1\n", "line 3: duplicate bar for AAPL"),
    ],
)
def test_bad_rows_name_the_file_line_and_problem(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path / "bad.csv", [ROWS[0], row])
    with pytest.raises(ValueError, match=message) as info:
        ReplayMarket.from_files([path])
    assert str(path) in str(info.value)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cols.csv", ["2025-03-10T13:30:00Z,AAPL,1,1\n"], "timestamp,symbol,open,close\n"
    )
    with pytest.raises(ValueError, match=r"cols\.csv: missing column\(s\) high, low, volume"):
        ReplayMarket.from_files([path])


def test_unreadable_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        ReplayMarket.from_files([tmp_path / "absent.csv"])
    (tmp_path / "bars.txt").write_text(HEADER)
    with pytest.raises(ValueError, match="unsupported file type"):
        ReplayMarket.from_files([tmp_path / "bars.txt"])
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"broken\.parquet: cannot read file"):
        ReplayMarket.from_files([tmp_path / "broken.parquet"])
