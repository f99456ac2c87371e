"""Live minute bars from Alpaca's market-data API (alpaca-py's historical data clients).

The `MarketFeed` methods are synchronous and block on HTTP when a bar is not cached yet;
async callers run `refresh(minute)` first (it does the fetching in a worker thread), after
which `bars_at`, `history` and `last_price` for that minute are answered from the cache.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from alpaca.common.enums import Sort
from alpaca.data.historical.crypto import CryptoHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import (
    CryptoBarsRequest,
    CryptoLatestBarRequest,
    StockBarsRequest,
    StockLatestBarRequest,
)
from alpaca.data.timeframe import TimeFrame

from qtc.alpaca.budget import RequestBudget, limit_rest_client
from qtc.alpaca.config import AlpacaConfig
from qtc.alpaca.translate import parse_time, translate_error
from qtc.domain.decimals import to_decimal
from qtc.domain.market import Bar, is_crypto
from qtc.domain.times import MINUTE

_HISTORY_LOOKBACK = timedelta(days=7)  # long enough to span a weekend and a holiday
_TICK = timedelta(microseconds=1)


def bar_from_payload(symbol: str, data: Mapping[str, Any]) -> Bar:
    """One Alpaca bar JSON object ({t, o, h, l, c, v, ...}) as a domain Bar."""
    return Bar(
        symbol=symbol,
        timestamp=parse_time(data["t"]),
        open=to_decimal(data["o"]),
        high=to_decimal(data["h"]),
        low=to_decimal(data["l"]),
        close=to_decimal(data["c"]),
        volume=to_decimal(data["v"]),
    )


class AlpacaMarketFeed:
    """A MarketFeed over Alpaca's data API, caching every bar it has seen per symbol."""

    def __init__(
        self,
        symbols: Iterable[str],
        stock_client: StockHistoricalDataClient | None,
        crypto_client: CryptoHistoricalDataClient,
    ) -> None:
        """Serve `symbols`; the stock client may be None for a crypto-only universe."""
        self._symbols = sorted(set(symbols))
        self._stock = stock_client
        self._crypto = crypto_client
        self._bars: dict[str, dict[datetime, Bar]] = {s: {} for s in self._symbols}
        self._loaded_history: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        config: AlpacaConfig,
        symbols: Iterable[str],
        limiter: RequestBudget,
        request_timeout: float = 10.0,
    ) -> AlpacaMarketFeed:
        """The feed of this account (its data URL), sharing the broker's request budget."""
        stock = StockHistoricalDataClient(
            api_key=config.api_key,
            secret_key=config.api_secret,
            raw_data=True,
            url_override=config.data_url,
        )
        crypto = CryptoHistoricalDataClient(
            api_key=config.api_key,
            secret_key=config.api_secret,
            raw_data=True,
            url_override=config.data_url,
        )
        for client in (stock, crypto):
            limit_rest_client(client, limiter, request_timeout)
        return cls(symbols, stock, crypto)

    @property
    def universe(self) -> list[str]:
        """Every symbol the feed serves."""
        return list(self._symbols)

    async def refresh(self, minute: datetime) -> None:
        """Fetch the bars of `minute` (and any missing history) without blocking the loop."""
        await asyncio.to_thread(self.bars_at, minute)

    def bars_at(self, minute: datetime) -> dict[str, Bar]:
        """The bars of the minute starting at `minute`, for each symbol that traded in it."""
        minute = minute.astimezone(UTC)
        wanted = [s for s in self._symbols if minute not in self._bars[s]]
        if wanted:
            self._store(self._fetch_latest(wanted))
            # The latest bar is newer than `minute` when catching up: ask for that minute.
            missed = [s for s in wanted if (self._latest_time(s) or minute) > minute]
            missed = [s for s in missed if minute not in self._bars[s]]
            if missed:
                self._store(self._fetch_range(missed, minute, minute + MINUTE - _TICK))
        with self._lock:
            return {s: self._bars[s][minute] for s in self._symbols if minute in self._bars[s]}

    def history(self, symbol: str, end: datetime, count: int) -> list[Bar]:
        """Up to `count` bars of `symbol` before `end` (exclusive), oldest first."""
        if symbol not in self._bars or count <= 0:
            return []
        end = end.astimezone(UTC)
        if symbol not in self._loaded_history:
            self._store(self._fetch_range([symbol], end - _HISTORY_LOOKBACK, end - _TICK, count))
            self._loaded_history.add(symbol)
        with self._lock:
            times = sorted(t for t in self._bars[symbol] if t < end)[-count:]
            return [self._bars[symbol][t] for t in times]

    def last_price(self, symbol: str, at: datetime) -> Decimal | None:
        """Close of the last bar that ended by `at`, if any."""
        bars = self.history(symbol, at.astimezone(UTC) - MINUTE + _TICK, 1)
        return bars[-1].close if bars else None

    def _latest_time(self, symbol: str) -> datetime | None:
        with self._lock:
            return max(self._bars[symbol], default=None)

    def _store(self, bars: Iterable[Bar]) -> None:
        with self._lock:
            for bar in bars:
                self._bars[bar.symbol][bar.timestamp] = bar

    def _fetch_latest(self, symbols: list[str]) -> list[Bar]:
        crypto, stocks = _split(symbols)
        raw: dict[str, Any] = {}
        if crypto:
            raw.update(
                self._get(
                    self._crypto.get_crypto_latest_bar,
                    CryptoLatestBarRequest(symbol_or_symbols=crypto),
                )
            )
        if stocks and self._stock is not None:
            raw.update(
                self._get(
                    self._stock.get_stock_latest_bar,
                    StockLatestBarRequest(symbol_or_symbols=stocks),
                )
            )
        return [bar_from_payload(s, data) for s, data in raw.items() if s in self._bars]

    def _fetch_range(
        self, symbols: list[str], start: datetime, end: datetime, newest: int | None = None
    ) -> list[Bar]:
        """Bars in [start, end]; with `newest`, only that many of the latest (one symbol)."""
        crypto, stocks = _split(symbols)
        options: dict[str, Any] = {"timeframe": TimeFrame.Minute, "start": start, "end": end}
        if newest is not None:
            options.update(limit=newest, sort=Sort.DESC)
        raw: dict[str, Any] = {}
        if crypto:
            raw.update(
                self._get(
                    self._crypto.get_crypto_bars,
                    CryptoBarsRequest(symbol_or_symbols=crypto, **options),
                )
            )
        if stocks and self._stock is not None:
            raw.update(
                self._get(
                    self._stock.get_stock_bars,
                    StockBarsRequest(symbol_or_symbols=stocks, **options),
                )
            )
        return [
            bar_from_payload(s, data) for s, rows in raw.items() if s in self._bars for data in rows
        ]

    @staticmethod
    def _get(call: Any, request: Any) -> dict[str, Any]:
        try:
            result = call(request)
        except Exception as e:
            raise translate_error(e, "market_data") from e
        return dict(result) if isinstance(result, Mapping) else {}


def _split(symbols: list[str]) -> tuple[list[str], list[str]]:
    return [s for s in symbols if is_crypto(s)], [s for s in symbols if not is_crypto(s)]
