"""A seeded, deterministic minute-bar market with U-shaped intraday volume and volatility.

Every (seed, symbol, day) has its own random generator, so any minute can be produced without
generating what came before. Each day's open comes from a seeded daily random walk anchored at
ANCHOR_DATE (prices there are the profiles' start prices); the intraday path is a bridge from the
day's open to the next day's level, so prices stay continuous from day to day.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from qtc.domain.market import Bar, is_crypto
from qtc.domain.times import MINUTE
from qtc.market.calendar import MarketCalendar

ANCHOR_DATE = date(2025, 1, 1)
_FULL_SESSION_MINUTES = 390
_CRYPTO_DAY_MINUTES = 1440
# stream tags keep the walk's and the intraday draws independent
_TAG_WALK = 1
_TAG_DAY = 2


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """How a simulated symbol behaves: price at ANCHOR_DATE, typical daily volume, volatility."""

    start_price: float
    daily_volume: float
    annual_volatility: float


DEFAULT_PROFILES: dict[str, SymbolProfile] = {
    "AAPL": SymbolProfile(250.0, 50_000_000, 0.25),
    "MSFT": SymbolProfile(420.0, 20_000_000, 0.22),
    "NVDA": SymbolProfile(135.0, 250_000_000, 0.50),
    "AMZN": SymbolProfile(220.0, 40_000_000, 0.30),
    "GOOG": SymbolProfile(190.0, 20_000_000, 0.28),
    "META": SymbolProfile(590.0, 13_000_000, 0.35),
    "TSLA": SymbolProfile(400.0, 90_000_000, 0.60),
    "SPY": SymbolProfile(585.0, 55_000_000, 0.15),
    "QQQ": SymbolProfile(510.0, 35_000_000, 0.20),
    "BTC/USD": SymbolProfile(94_000.0, 1_500, 0.55),
}
DEFAULT_UNIVERSE: list[str] = list(DEFAULT_PROFILES)


def _derived_profile(symbol: str) -> SymbolProfile:
    """A stable made-up profile for a symbol the defaults do not know."""
    h = zlib.crc32(symbol.encode())
    price = 20.0 + (h % 38_000) / 100.0
    volume = 1_000_000 + (h >> 8) % 19_000_000
    return SymbolProfile(price, volume, 0.30)


@dataclass(frozen=True, slots=True)
class _DayBars:
    """All bars of one symbol on one day, minute by minute from `first`."""

    first: datetime
    bars: list[Bar]

    def index_before(self, end: datetime) -> int:
        """How many of the day's bars start strictly before `end`."""
        seconds = (end - self.first).total_seconds()
        return min(max(math.ceil(seconds / 60.0), 0), len(self.bars))


def _u_shape(n: int, base: float, open_peak: float, close_peak: float, width: float) -> np.ndarray:
    """Weights over a session: high at the open and the close, low at midday."""
    t = (np.arange(n) + 0.5) / n
    return base + open_peak * np.exp(-t / width) + close_peak * np.exp(-(1.0 - t) / width)


def _cents(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(values * 100.0), 1).astype(np.int64)


class SimulatedMarket:
    """A `MarketFeed` of reproducible synthetic bars: equities in NYSE sessions, crypto 24/7."""

    def __init__(
        self,
        seed: int,
        calendar: MarketCalendar,
        universe: list[str] | None = None,
        *,
        profiles: dict[str, SymbolProfile] | None = None,
        cache_days: int = 128,
    ) -> None:
        self.seed = seed % (1 << 63)
        self.calendar = calendar
        self._universe = list(universe) if universe is not None else list(DEFAULT_UNIVERSE)
        if len(set(self._universe)) != len(self._universe):
            raise ValueError(f"duplicate symbols in universe {self._universe}")
        known = {**DEFAULT_PROFILES, **(profiles or {})}
        self._profiles = {s: known.get(s) or _derived_profile(s) for s in self._universe}
        self._symbol_keys = {s: zlib.crc32(s.encode()) for s in self._universe}
        self._cache_days = cache_days
        self._days: OrderedDict[tuple[str, date], _DayBars | None] = OrderedDict()
        self._walk_years: dict[tuple[str, int], np.ndarray] = {}
        self._year_levels: dict[tuple[str, int], float] = {}

    async def refresh(self, minute: datetime) -> None:
        """Nothing to fetch: every bar is already known."""

    @property
    def universe(self) -> list[str]:
        """Every symbol the feed knows."""
        return list(self._universe)

    def bars_at(self, minute: datetime) -> dict[str, Bar]:
        """The bar of each symbol trading in the minute starting at `minute`."""
        start = _floor_minute(minute)
        day = start.date()
        out: dict[str, Bar] = {}
        for symbol in self._universe:
            bar = self._bar_on(symbol, day, start)
            if bar is not None:
                out[symbol] = bar
        return out

    def bar(self, symbol: str, minute: datetime) -> Bar | None:
        """The bar of `symbol` for the minute starting at `minute`, None if it did not trade."""
        self._profile(symbol)
        start = _floor_minute(minute)
        return self._bar_on(symbol, start.date(), start)

    def history(self, symbol: str, end: datetime, count: int) -> list[Bar]:
        """Up to `count` bars of `symbol` starting before `end`, oldest first, across days."""
        self._profile(symbol)
        end = _utc(end)
        chunks: list[list[Bar]] = []
        needed = count
        for day in self._days_back_from(symbol, end):
            if needed <= 0:
                break
            day_bars = self._day(symbol, day)
            if day_bars is None:
                continue
            k = day_bars.index_before(end)
            take = day_bars.bars[max(0, k - needed) : k]
            chunks.append(take)
            needed -= len(take)
        return [bar for chunk in reversed(chunks) for bar in chunk]

    def last_price(self, symbol: str, at: datetime) -> Decimal | None:
        """Close of the last bar starting strictly before `at` (the previous close when closed)."""
        last = self.history(symbol, at, 1)
        return last[-1].close if last else None

    def _profile(self, symbol: str) -> SymbolProfile:
        try:
            return self._profiles[symbol]
        except KeyError:
            raise KeyError(f"{symbol!r} is not in the simulated universe") from None

    def _bar_on(self, symbol: str, day: date, start: datetime) -> Bar | None:
        day_bars = self._day(symbol, day)
        if day_bars is None:
            return None
        i = int((start - day_bars.first).total_seconds()) // 60
        if 0 <= i < len(day_bars.bars):
            return day_bars.bars[i]
        return None

    def _days_back_from(self, symbol: str, end: datetime) -> Iterator[date]:
        if is_crypto(symbol):
            return _calendar_days_back(end.date())
        return _SessionDaysBack(self.calendar, end)

    def _day(self, symbol: str, day: date) -> _DayBars | None:
        key = (symbol, day)
        cache = self._days
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = self._generate(symbol, day)
        cache[key] = value
        if len(cache) > self._cache_days:
            cache.popitem(last=False)
        return value

    def _rng(self, symbol: str, tag: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self._symbol_keys[symbol], tag, index + (1 << 32)])

    def _walk_year(self, symbol: str, year: int) -> np.ndarray:
        """Cumulative daily log-returns of `year`, with a leading 0 (index = day of year - 1)."""
        key = (symbol, year)
        cum = self._walk_years.get(key)
        if cum is None:
            days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            sigma = self._profiles[symbol].annual_volatility / math.sqrt(365.0)
            steps = self._rng(symbol, _TAG_WALK, year).standard_normal(days) * sigma
            cum = np.concatenate(([0.0], np.cumsum(steps)))
            self._walk_years[key] = cum
        return cum

    def _year_level(self, symbol: str, year: int) -> float:
        """Log price on January 1 of `year`."""
        key = (symbol, year)
        level = self._year_levels.get(key)
        if level is None:
            if year == ANCHOR_DATE.year:
                level = math.log(self._profiles[symbol].start_price)
            elif year > ANCHOR_DATE.year:
                level = self._year_level(symbol, year - 1) + float(
                    self._walk_year(symbol, year - 1)[-1]
                )
            else:
                level = self._year_level(symbol, year + 1) - float(
                    self._walk_year(symbol, year)[-1]
                )
            self._year_levels[key] = level
        return level

    def _level(self, symbol: str, day: date) -> float:
        """Log price at the start of `day` on the daily random walk."""
        doy = (day - date(day.year, 1, 1)).days
        return self._year_level(symbol, day.year) + float(self._walk_year(symbol, day.year)[doy])

    def _generate(self, symbol: str, day: date) -> _DayBars | None:
        profile = self._profiles[symbol]
        rng = self._rng(symbol, _TAG_DAY, day.toordinal())
        open_log = self._level(symbol, day)
        next_log = self._level(symbol, day + timedelta(days=1))
        if is_crypto(symbol):
            first = datetime.combine(day, time(0), UTC)
            n = _CRYPTO_DAY_MINUTES
            vol_w = np.ones(n)
            volume_w = np.ones(n)
            day_sigma = profile.annual_volatility / math.sqrt(365.0)
            day_volume = profile.daily_volume
            target = next_log
        else:
            session = self.calendar.session_on(day)
            if session is None:
                return None
            first = session.open
            n = session.minutes
            vol_w = _u_shape(n, 0.7, 1.6, 0.9, 0.06)
            volume_w = _u_shape(n, 0.6, 2.5, 1.8, 0.05)
            day_sigma = profile.annual_volatility / math.sqrt(252.0)
            day_volume = profile.daily_volume * n / _FULL_SESSION_MINUTES
            # the next open gaps a little away from this close
            target = next_log - rng.standard_normal() * day_sigma * 0.3
        sigma = day_sigma * vol_w / math.sqrt(float(np.sum(vol_w**2)))
        shocks = rng.standard_normal(n)
        walk = np.cumsum(shocks * sigma)
        variance = np.cumsum(sigma**2)
        # a bridge weighted by variance ends exactly at the target
        path = walk - (variance / variance[-1]) * (walk[-1] - (target - open_log))
        closes_log = open_log + path
        opens_log = np.concatenate(([open_log], closes_log[:-1]))
        wick_hi = np.abs(rng.standard_normal(n)) * sigma * 0.6
        wick_lo = np.abs(rng.standard_normal(n)) * sigma * 0.6
        open_c = _cents(np.exp(opens_log))
        close_c = _cents(np.exp(closes_log))
        high_c = np.maximum(_cents(np.exp(np.maximum(opens_log, closes_log) + wick_hi)), open_c)
        high_c = np.maximum(high_c, close_c)
        low_c = np.minimum(_cents(np.exp(np.minimum(opens_log, closes_log) - wick_lo)), open_c)
        low_c = np.minimum(low_c, close_c)
        # busier minutes move more: volume follows the profile and the size of the move
        noise = np.exp(rng.standard_normal(n) * 0.35 - 0.06) * (1.0 + 0.3 * np.abs(shocks))
        raw_volume = volume_w / np.sum(volume_w) * day_volume * noise
        if is_crypto(symbol):
            volumes = [Decimal(int(v)).scaleb(-4) for v in np.rint(raw_volume * 10_000)]
        else:
            volumes = [Decimal(int(v)) for v in np.maximum(np.rint(raw_volume), 1)]
        bars = [
            Bar(
                symbol=symbol,
                timestamp=first + i * MINUTE,
                open=Decimal(int(open_c[i])).scaleb(-2),
                high=Decimal(int(high_c[i])).scaleb(-2),
                low=Decimal(int(low_c[i])).scaleb(-2),
                close=Decimal(int(close_c[i])).scaleb(-2),
                volume=volumes[i],
            )
            for i in range(n)
        ]
        return _DayBars(first=first, bars=bars)


def _calendar_days_back(day: date) -> Iterator[date]:
    """Every date from `day` backwards (the caller stops once it has enough bars)."""
    while True:
        yield day
        day -= timedelta(days=1)


class _SessionDaysBack:
    """Exchange dates of the sessions that opened before `end`, newest first."""

    def __init__(self, calendar: MarketCalendar, end: datetime) -> None:
        self._calendar = calendar
        self._end = end

    def __iter__(self) -> _SessionDaysBack:
        return self

    def __next__(self) -> date:
        session = self._calendar.last_session_before(self._end)
        if session is None:
            raise StopIteration
        self._end = session.open
        return session.day


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: QTC times are timezone-aware UTC")
    return moment.astimezone(UTC)


def _floor_minute(moment: datetime) -> datetime:
    return _utc(moment).replace(second=0, microsecond=0)
