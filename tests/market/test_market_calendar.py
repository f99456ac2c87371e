"""The market calendar: NYSE sessions, holidays, half days, weekends and daylight saving time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from qtc.market.calendar import MarketCalendar


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_christmas_is_closed_for_equities_but_not_crypto(calendar: MarketCalendar) -> None:
    noon_ny = utc(2025, 12, 25, 17, 0)
    assert calendar.session_on(date(2025, 12, 25)) is None
    assert not calendar.is_open("AAPL", noon_ny)
    assert calendar.session_close(noon_ny) is None
    assert calendar.is_open("BTC/USD", noon_ny)
    assert calendar.next_open(noon_ny) == utc(2025, 12, 26, 14, 30)


def test_day_after_thanksgiving_closes_at_1800_utc(calendar: MarketCalendar) -> None:
    assert calendar.session_close(utc(2025, 11, 28, 15, 0)) == utc(2025, 11, 28, 18, 0)
    assert calendar.is_open("SPY", utc(2025, 11, 28, 17, 59))
    assert not calendar.is_open("SPY", utc(2025, 11, 28, 18, 0))
    session = calendar.session_on(date(2025, 11, 28))
    assert session is not None and session.minutes == 210


def test_regular_day_hours_and_boundaries(calendar: MarketCalendar) -> None:
    # 2025-11-24 is a Monday in standard time: 09:30-16:00 New York = 14:30-21:00 UTC
    assert not calendar.is_open("AAPL", utc(2025, 11, 24, 14, 29))
    assert calendar.is_open("AAPL", utc(2025, 11, 24, 14, 30))
    assert calendar.is_open("AAPL", utc(2025, 11, 24, 20, 59))
    assert not calendar.is_open("AAPL", utc(2025, 11, 24, 21, 0))
    assert calendar.session_close(utc(2025, 11, 24, 20, 59)) == utc(2025, 11, 24, 21, 0)
    assert calendar.session_close(utc(2025, 11, 24, 21, 0)) is None


def test_weekend_is_closed_and_next_open_is_monday(calendar: MarketCalendar) -> None:
    saturday = utc(2025, 11, 22, 15, 0)
    assert not calendar.is_open("MSFT", saturday)
    assert calendar.is_open("BTC/USD", saturday)
    assert calendar.next_open(saturday) == utc(2025, 11, 24, 14, 30)


def test_next_open_is_strictly_after(calendar: MarketCalendar) -> None:
    open_ = utc(2025, 11, 24, 14, 30)
    assert calendar.next_open(utc(2025, 11, 24, 14, 29)) == open_
    assert calendar.next_open(open_) == utc(2025, 11, 25, 14, 30)


def test_daylight_saving_moves_the_open_in_utc(calendar: MarketCalendar) -> None:
    # US clocks spring forward on 2025-03-09: the open moves from 14:30 to 13:30 UTC
    assert not calendar.is_open("AAPL", utc(2025, 3, 7, 13, 45))
    assert calendar.is_open("AAPL", utc(2025, 3, 7, 14, 45))
    assert calendar.is_open("AAPL", utc(2025, 3, 10, 13, 45))
    assert calendar.session_close(utc(2025, 3, 10, 13, 45)) == utc(2025, 3, 10, 20, 0)
    assert calendar.next_open(utc(2025, 3, 8, 0, 0)) == utc(2025, 3, 10, 13, 30)
    # and falls back on 2025-11-02
    assert calendar.next_open(utc(2025, 11, 1)) == utc(2025, 11, 3, 14, 30)


def test_sessions_between_skips_holidays_and_weekends(calendar: MarketCalendar) -> None:
    days = [s.day for s in calendar.sessions_between(date(2025, 11, 22), date(2025, 11, 30))]
    assert days == [date(2025, 11, d) for d in (24, 25, 26, 28)]
    same = calendar.sessions_between(utc(2025, 11, 24, 23, 0), utc(2025, 11, 25, 1, 0))
    assert [s.day for s in same] == [date(2025, 11, 24), date(2025, 11, 25)]


def test_last_session_before(calendar: MarketCalendar) -> None:
    session = calendar.last_session_before(utc(2025, 11, 29, 12, 0))
    assert session is not None and session.day == date(2025, 11, 28)
    inside = calendar.last_session_before(utc(2025, 11, 24, 15, 0))
    assert inside is not None and inside.day == date(2025, 11, 24)


def test_naive_and_out_of_range_times_are_refused(calendar: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.is_open("AAPL", datetime(2025, 11, 24, 15, 0))
    with pytest.raises(ValueError, match="outside the market calendar"):
        calendar.is_open("AAPL", utc(2031, 1, 2, 15, 0))


def test_injected_range() -> None:
    small = MarketCalendar(start=date(2025, 1, 1), end=date(2025, 1, 31))
    assert len(small.sessions_between(date(2025, 1, 1), date(2025, 1, 31))) == 20
    with pytest.raises(ValueError, match="no session after"):
        small.next_open(utc(2025, 1, 31, 22, 0))
