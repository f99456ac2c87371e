"""The simulated market: reproducible, session-aware, realistic-looking minute bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from statistics import mean

import pytest

from qtc.domain.market import Bar
from qtc.market.calendar import MarketCalendar
from qtc.market.simulated import DEFAULT_UNIVERSE, SimulatedMarket

MIN = timedelta(minutes=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def session_bars(
    market: SimulatedMarket, calendar: MarketCalendar, symbol: str, day: date
) -> list[Bar]:
    session = calendar.session_on(day)
    assert session is not None
    return market.history(symbol, session.close, session.minutes)


def test_default_universe_has_ten_liquid_symbols(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(1, calendar)
    assert market.universe == DEFAULT_UNIVERSE
    assert len(market.universe) == 10 and "BTC/USD" in market.universe
    bars = market.bars_at(utc(2025, 11, 24, 15, 0))
    assert set(bars) == set(DEFAULT_UNIVERSE)
    assert Decimal(100) < bars["AAPL"].close < Decimal(1000)
    assert bars["BTC/USD"].close > Decimal(10000)


def test_same_seed_same_bars_in_any_order_of_access(calendar: MarketCalendar) -> None:
    minutes = [utc(2025, 11, 24, 14, 30), utc(2026, 3, 10, 19, 59), utc(2025, 6, 2, 15, 17)]
    first = SimulatedMarket(7, calendar)
    forward = [first.bars_at(m) for m in minutes]
    second = SimulatedMarket(7, calendar, cache_days=1)
    backward = [second.bars_at(m) for m in reversed(minutes)]
    assert forward == list(reversed(backward))
    assert SimulatedMarket(8, calendar).bars_at(minutes[0]) != forward[0]


def test_a_smaller_universe_gives_the_same_bars_per_symbol(calendar: MarketCalendar) -> None:
    minute = utc(2025, 11, 25, 16, 0)
    full = SimulatedMarket(3, calendar).bars_at(minute)
    small = SimulatedMarket(3, calendar, universe=["NVDA", "XYZ"]).bars_at(minute)
    assert small["NVDA"] == full["NVDA"]
    assert small["XYZ"].close > 0


def test_equities_trade_only_in_regular_sessions(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(5, calendar)
    assert set(market.bars_at(utc(2025, 11, 22, 15, 0))) == {"BTC/USD"}  # Saturday
    assert set(market.bars_at(utc(2025, 12, 25, 15, 0))) == {"BTC/USD"}  # Christmas
    assert set(market.bars_at(utc(2025, 11, 24, 14, 29))) == {"BTC/USD"}  # before the open
    assert len(market.bars_at(utc(2025, 11, 24, 14, 30))) == 10
    assert len(market.bars_at(utc(2025, 11, 24, 20, 59))) == 10
    assert set(market.bars_at(utc(2025, 11, 24, 21, 0))) == {"BTC/USD"}
    # half day after Thanksgiving closes at 18:00 UTC
    assert len(market.bars_at(utc(2025, 11, 28, 17, 59))) == 10
    assert set(market.bars_at(utc(2025, 11, 28, 18, 0))) == {"BTC/USD"}
    half = session_bars(market, calendar, "AAPL", date(2025, 11, 28))
    assert len(half) == 210 and half[-1].timestamp == utc(2025, 11, 28, 17, 59)


def test_crypto_trades_every_minute_around_the_clock(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(5, calendar)
    end = utc(2025, 11, 23, 0, 5)  # a Sunday just past midnight
    bars = market.history("BTC/USD", end, 3 * 1440)
    assert len(bars) == 3 * 1440
    assert [b.timestamp for b in bars] == [end - (3 * 1440 - i) * MIN for i in range(3 * 1440)]
    # price is continuous over midnight
    at_midnight = next(b for b in bars if b.timestamp == utc(2025, 11, 22, 0, 0))
    before = next(b for b in bars if b.timestamp == utc(2025, 11, 21, 23, 59))
    assert at_midnight.open == before.close


def test_bars_are_consistent_cents_and_whole_shares(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(11, calendar)
    for symbol in market.universe:
        bars = market.history(symbol, utc(2025, 11, 26, 0, 0), 800)
        assert len(bars) == 800
        for bar in bars:
            assert bar.symbol == symbol
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.low > 0 and bar.volume > 0
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price == price.quantize(Decimal("0.01"))
            if symbol != "BTC/USD":
                assert bar.volume == bar.volume.to_integral_value()


def test_volume_and_volatility_are_u_shaped(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(2, calendar)
    days = [s.day for s in calendar.sessions_between(date(2025, 11, 3), date(2025, 11, 14))]
    for symbol in ("AAPL", "SPY"):
        edges_vol: list[float] = []
        middle_vol: list[float] = []
        edges_range: list[float] = []
        middle_range: list[float] = []
        for day in days:
            bars = session_bars(market, calendar, symbol, day)
            assert len(bars) == 390
            edge = bars[:30] + bars[-30:]
            middle = bars[165:225]
            edges_vol += [float(b.volume) for b in edge]
            middle_vol += [float(b.volume) for b in middle]
            edges_range += [float((b.high - b.low) / b.close) for b in edge]
            middle_range += [float((b.high - b.low) / b.close) for b in middle]
        assert mean(edges_vol) > 1.5 * mean(middle_vol)
        assert mean(edges_range) > 1.2 * mean(middle_range)


def test_day_to_day_prices_stay_close(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(9, calendar)
    sessions = calendar.sessions_between(date(2025, 10, 1), date(2025, 12, 31))
    for symbol in ("AAPL", "TSLA"):
        previous_close: Decimal | None = None
        for session in sessions:
            bars = market.history(symbol, session.close, session.minutes)
            if previous_close is not None:
                gap = abs(bars[0].open / previous_close - 1)
                assert gap < Decimal("0.15"), (symbol, session.day, gap)
            previous_close = bars[-1].close


def test_daily_volume_is_realistic(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(4, calendar)
    aapl = session_bars(market, calendar, "AAPL", date(2025, 11, 24))
    total = sum(b.volume for b in aapl)
    assert Decimal(20_000_000) < total < Decimal(120_000_000)


def test_history_crosses_sessions_oldest_first(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(6, calendar)
    end = utc(2025, 11, 24, 14, 35)  # Monday, five minutes after the open
    bars = market.history("MSFT", end, 10)
    assert [b.timestamp for b in bars] == [
        utc(2025, 11, 21, 20, 55) + i * MIN for i in range(5)
    ] + [utc(2025, 11, 24, 14, 30) + i * MIN for i in range(5)]
    assert market.history("MSFT", end, 0) == []
    # a bar that starts at `end` is not in the history, even mid-minute
    assert market.history("MSFT", utc(2025, 11, 24, 14, 35, 30), 1)[0].timestamp == utc(
        2025, 11, 24, 14, 35
    )


def test_last_price_is_the_previous_close_when_closed(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(6, calendar)
    friday_last = market.bars_at(utc(2025, 11, 21, 20, 59))["AAPL"]
    assert market.last_price("AAPL", utc(2025, 11, 22, 12, 0)) == friday_last.close
    assert market.last_price("AAPL", utc(2025, 11, 24, 14, 30)) == friday_last.close
    first_monday = market.bars_at(utc(2025, 11, 24, 14, 30))["AAPL"]
    assert market.last_price("AAPL", utc(2025, 11, 24, 14, 31)) == first_monday.close
    btc = market.bars_at(utc(2025, 11, 22, 11, 59))["BTC/USD"]
    assert market.last_price("BTC/USD", utc(2025, 11, 22, 12, 0)) == btc.close


def test_bar_lookup_and_unknown_symbol(calendar: MarketCalendar) -> None:
    market = SimulatedMarket(6, calendar)
    minute = utc(2025, 11, 24, 15, 0)
    assert market.bar("AAPL", minute + timedelta(seconds=30)) == market.bars_at(minute)["AAPL"]
    assert market.bar("AAPL", utc(2025, 11, 22, 15, 0)) is None
    with pytest.raises(KeyError, match="not in the simulated universe"):
        market.history("NOPE", minute, 5)
    with pytest.raises(ValueError, match="naive"):
        market.bars_at(datetime(2025, 11, 24, 15, 0))
