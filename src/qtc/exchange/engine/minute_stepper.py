"""Manual time for tests: move a manual clock minute by minute and let the driver feed each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from qtc.domain.times import MINUTE
from qtc.exchange.engine.driver import ExchangeDriver

MAX_MINUTES_PER_ADVANCE = 100_000


class SettableClock(Protocol):
    """A clock a test moves (`qtc.clock.ManualClock`)."""

    def now(self) -> datetime: ...

    def set(self, moment: datetime) -> datetime: ...


class MinuteStepper:
    """Advances a manual clock one whole minute at a time; after each, the driver feeds the
    completed minute's bars to the engine (and closes the session when it ends), so the state
    after `advance(n)` is exactly what real time would have produced."""

    def __init__(self, driver: ExchangeDriver, clock: SettableClock) -> None:
        self._driver = driver
        self._clock = clock

    def advance(self, minutes: int) -> datetime:
        """Complete `minutes` minutes; returns the clock's new time (a whole minute)."""
        if not 0 <= minutes <= MAX_MINUTES_PER_ADVANCE:
            raise ValueError(f"minutes must be between 0 and {MAX_MINUTES_PER_ADVANCE}")
        for _ in range(minutes):
            minute = self._clock.now().astimezone(UTC).replace(second=0, microsecond=0)
            self._clock.set(minute + MINUTE)
            self._driver.catch_up()
        return self._clock.now()
