"""A market feed that replays minute bars read from CSV or Parquet files.

Each file (`.csv`, or `.parquet`/`.pq`) holds one row per bar with these columns (any order,
extra columns ignored):

- `timestamp`: the start of the minute, ISO-8601 with a timezone (`2025-03-10T13:30:00Z` or
  `2025-03-10T09:30:00-04:00`); a Parquet timestamp column must be timezone-aware. Seconds must
  be zero.
- `symbol`: e.g. `AAPL` or `BTC/USD`.
- `open`, `high`, `low`, `close`: positive decimal prices with low <= open, close <= high.
- `volume`: a non-negative decimal.

CSV numbers are read as text, so prices keep their exact decimals. Any problem raises a
ValueError naming the file, the row and what is wrong; a (symbol, timestamp) seen twice is one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any

from qtc.domain.decimals import NotANumber, to_decimal
from qtc.domain.market import Bar

REQUIRED_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class ReplayMarket:
    """A `MarketFeed` over a fixed set of bars, indexed by minute and by symbol."""

    def __init__(self, bars: Iterable[Bar]) -> None:
        by_symbol: dict[str, list[Bar]] = {}
        self._by_minute: dict[datetime, dict[str, Bar]] = {}
        for bar in bars:
            if bar.timestamp.tzinfo is None:
                raise ValueError(f"bar {bar.symbol} {bar.timestamp} has no timezone")
            minute = bar.timestamp.astimezone(UTC)
            slot = self._by_minute.setdefault(minute, {})
            if bar.symbol in slot:
                raise ValueError(f"two bars for {bar.symbol} at {minute.isoformat()}")
            slot[bar.symbol] = bar
            by_symbol.setdefault(bar.symbol, []).append(bar)
        self._bars: dict[str, list[Bar]] = {}
        self._times: dict[str, list[datetime]] = {}
        for symbol, symbol_bars in by_symbol.items():
            symbol_bars.sort(key=lambda b: b.timestamp)
            self._bars[symbol] = symbol_bars
            self._times[symbol] = [b.timestamp.astimezone(UTC) for b in symbol_bars]
        self._universe = sorted(self._bars)

    @classmethod
    def from_files(cls, paths: Sequence[str | PathLike[str]]) -> ReplayMarket:
        """Read every file's bars into one feed; a ValueError names the file and the problem."""
        bars: list[Bar] = []
        seen: dict[tuple[str, datetime], str] = {}
        for raw_path in paths:
            path = Path(raw_path)
            for row_label, bar in _read_file(path):
                key = (bar.symbol, bar.timestamp)
                if key in seen:
                    raise ValueError(
                        f"{path}: {row_label}: duplicate bar for {bar.symbol} at "
                        f"{bar.timestamp.isoformat()} (first seen in {seen[key]})"
                    )
                seen[key] = str(path)
                bars.append(bar)
        return cls(bars)

    async def refresh(self, minute: datetime) -> None:
        """Nothing to fetch: every bar is already known."""

    @property
    def universe(self) -> list[str]:
        """Every symbol found in the files, sorted."""
        return list(self._universe)

    @property
    def first_minute(self) -> datetime | None:
        """The earliest bar's minute, handy to start a replay clock."""
        return min(self._by_minute) if self._by_minute else None

    @property
    def last_minute(self) -> datetime | None:
        """The latest bar's minute."""
        return max(self._by_minute) if self._by_minute else None

    def bars_at(self, minute: datetime) -> dict[str, Bar]:
        """The bars recorded for the minute starting at `minute`."""
        return dict(self._by_minute.get(_floor_minute(minute), {}))

    def history(self, symbol: str, end: datetime, count: int) -> list[Bar]:
        """Up to `count` recorded bars of `symbol` starting before `end`, oldest first."""
        times = self._times.get(symbol)
        if times is None or count <= 0:
            return []
        k = bisect.bisect_left(times, _utc(end))
        return self._bars[symbol][max(0, k - count) : k]

    def last_price(self, symbol: str, at: datetime) -> Decimal | None:
        """Close of the last recorded bar starting strictly before `at`."""
        last = self.history(symbol, at, 1)
        return last[-1].close if last else None


def _read_file(path: Path) -> list[tuple[str, Bar]]:
    """(row label, bar) for every row of one file."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    # imported here: pandas is slow to import and only file reading needs it
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (*_PARQUET_SUFFIXES, ".csv"):
        raise ValueError(f"{path}: unsupported file type (use .csv or .parquet)")
    parquet = suffix in _PARQUET_SUFFIXES
    try:
        if parquet:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:
        raise ValueError(f"{path}: cannot read file: {e}") from e
    first_line = 0 if parquet else 2  # in a CSV the header is line 1
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_COLUMNS)})"
        )
    columns = [frame[c].tolist() for c in REQUIRED_COLUMNS]
    out: list[tuple[str, Bar]] = []
    for i, values in enumerate(zip(*columns, strict=True)):
        label = f"line {i + first_line}" if first_line else f"row {i}"
        try:
            out.append((label, _row_to_bar(values)))
        except ValueError as e:
            raise ValueError(f"{path}: {label}: {e}") from e
    return out


def _row_to_bar(values: tuple[Any, ...]) -> Bar:
    raw_ts, raw_symbol, *raw_numbers = values
    timestamp = _timestamp(raw_ts)
    symbol = str(raw_symbol).strip() if raw_symbol is not None else ""
    if not symbol or symbol.lower() == "nan":
        raise ValueError("symbol is empty")
    numbers: list[Decimal] = []
    for name, raw in zip(REQUIRED_COLUMNS[2:], raw_numbers, strict=True):
        try:
            numbers.append(to_decimal(raw))
        except NotANumber as e:
            raise ValueError(f"{name}: {e}") from e
    open_, high, low, close, volume = numbers
    for name, price in (("open", open_), ("high", high), ("low", low), ("close", close)):
        if price <= 0:
            raise ValueError(f"{name} must be positive, got {price}")
    if volume < 0:
        raise ValueError(f"volume must not be negative, got {volume}")
    if not low <= min(open_, close) or not max(open_, close) <= high:
        raise ValueError(f"inconsistent prices: need low <= open, close <= high, got {numbers}")
    return Bar(
        symbol=symbol,
        timestamp=timestamp,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
    )


def _timestamp(raw: Any) -> datetime:
    if isinstance(raw, datetime):  # pandas Timestamp is a datetime
        moment = raw
    else:
        text = str(raw).strip()
        if not text:
            raise ValueError("timestamp is empty")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as e:
            raise ValueError(f"timestamp {text!r} is not ISO-8601") from e
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no timezone (add Z or +00:00)")
    if moment.second or moment.microsecond:
        raise ValueError(f"timestamp {moment.isoformat()} is not the start of a minute")
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    return moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: QTC times are timezone-aware UTC")
    return moment.astimezone(UTC)


def _floor_minute(moment: datetime) -> datetime:
    return _utc(moment).replace(second=0, microsecond=0)
