"""Fixtures for the market tests: one calendar shared by the whole folder (it is slow to build)."""

from __future__ import annotations

from datetime import date

import pytest

from qtc.market.calendar import MarketCalendar


@pytest.fixture(scope="session")
def calendar() -> MarketCalendar:
    return MarketCalendar(start=date(2024, 1, 1), end=date(2027, 12, 31))
