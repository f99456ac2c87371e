"""`get_calendar` from the exchange's session calendar, through alpaca-py."""

from __future__ import annotations

from datetime import date, datetime

from alpaca.trading.requests import GetCalendarRequest

from .conftest import Harness


def test_calendar_lists_sessions_with_their_new_york_hours(harness: Harness) -> None:
    days = harness.trading.get_calendar(
        GetCalendarRequest(start=date(2025, 3, 1), end=date(2025, 3, 9))
    )
    assert isinstance(days, list)
    assert [d.date for d in days] == [date(2025, 3, d) for d in (3, 4, 5, 6, 7)]
    assert days[0].open == datetime(2025, 3, 3, 9, 30)
    assert days[0].close == datetime(2025, 3, 3, 16, 0)


def test_calendar_knows_holidays_and_half_days(harness: Harness) -> None:
    days = harness.trading.get_calendar(
        GetCalendarRequest(start=date(2025, 11, 26), end=date(2025, 11, 28))
    )
    # Thanksgiving is closed; the day after closes at 13:00
    assert [(d.date, d.close.time().hour) for d in days] == [
        (date(2025, 11, 26), 16),
        (date(2025, 11, 28), 13),
    ]


def test_calendar_answers_an_empty_range_with_no_days(harness: Harness) -> None:
    weekend = GetCalendarRequest(start=date(2025, 3, 8), end=date(2025, 3, 9))
    assert harness.trading.get_calendar(weekend) == []
