"""The Clock port (where the platform learns the time and how it waits) and its clocks: the
wall clock, an accelerated simulated clock, and a manual clock for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where the platform learns the time, and how it waits for it."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once `now() >= when` (at once if already past)."""
        ...

    async def pace_to(self, moment: datetime) -> None:
        """How the minute loop waits for `moment`: `sleep_until`, or, for a paced simulated
        clock, moving the clock there at its pace."""
        ...


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: QTC times are timezone-aware UTC")
    return moment.astimezone(UTC)


class RealClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """Current wall-clock time, UTC."""
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the wall clock reaches `when`."""
        target = _utc(when)
        # asyncio.sleep may wake a hair early; loop until the clock really is there
        while (remaining := (target - self.now()).total_seconds()) > 0:
            await asyncio.sleep(remaining)

    async def pace_to(self, moment: datetime) -> None:
        await self.sleep_until(moment)


class AcceleratedClock:
    """Simulated time starting at `start` that advances one minute per `ms_per_minute` real ms.

    `monotonic` (seconds) is injectable; it defaults to `time.monotonic`.
    """

    def __init__(
        self,
        start: datetime,
        ms_per_minute: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ms_per_minute > 0:
            raise ValueError(f"ms_per_minute must be positive, got {ms_per_minute}")
        self.start = _utc(start)
        self.ms_per_minute = ms_per_minute
        self._monotonic = monotonic
        self._real_start = monotonic()
        # simulated seconds per real second
        self.speed = 60_000.0 / ms_per_minute

    def now(self) -> datetime:
        """Simulated now: `start` plus elapsed real time times the speed-up."""
        elapsed = self._monotonic() - self._real_start
        return self.start + timedelta(seconds=elapsed * self.speed)

    def real_seconds_until(self, when: datetime) -> float:
        """Real seconds left until simulated time reaches `when` (0 if already past)."""
        simulated = (_utc(when) - self.now()).total_seconds()
        return max(simulated / self.speed, 0.0)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep the scaled real time until simulated time reaches `when`."""
        target = _utc(when)
        while (remaining := self.real_seconds_until(target)) > 0:
            await asyncio.sleep(remaining)

    async def pace_to(self, moment: datetime) -> None:
        await self.sleep_until(moment)


class ManualClock:
    """A clock that moves only when a test says so; sleepers wake when it passes their time.

    Waiters are futures resolved by `advance`/`set`, so nothing polls. `advance` may be called
    from the event loop or from another thread.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start)
        self._lock = threading.Lock()
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        """The time the test last set."""
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        """Return once a test has moved the clock to `when` or beyond."""
        target = _utc(when)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._now >= target:
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((target, future))
        try:
            await future
        finally:
            with self._lock:
                self._waiters = [(t, f) for t, f in self._waiters if f is not future]

    async def pace_to(self, moment: datetime) -> None:
        """A test moves this clock; the loop waits for it."""
        await self.sleep_until(moment)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and wake every sleeper whose time has come."""
        if delta < timedelta(0):
            raise ValueError(f"a clock never goes back (advance by {delta})")
        return self.set(self._now + delta)

    def set(self, moment: datetime) -> datetime:
        """Move the clock to `moment` (not earlier than now) and wake due sleepers."""
        target = _utc(moment)
        with self._lock:
            if target < self._now:
                raise ValueError(f"a clock never goes back ({self._now} -> {target})")
            self._now = target
            due = [f for t, f in self._waiters if t <= target]
        for future in due:
            _resolve(future)
        return target

    @property
    def sleepers(self) -> int:
        """How many coroutines are waiting in `sleep_until`."""
        with self._lock:
            return sum(1 for _, f in self._waiters if not f.done())

    def next_wakeup(self) -> datetime | None:
        """The earliest time a sleeper waits for, if any."""
        with self._lock:
            times = [t for t, f in self._waiters if not f.done()]
        return min(times) if times else None


class PacedClock(ManualClock):
    """Simulated time moved by the minute loop itself, no faster than one minute per
    `ms_per_minute` real milliseconds: timestamps always match the minute being processed,
    however long a minute takes."""

    def __init__(
        self,
        start: datetime,
        ms_per_minute: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(start)
        if not ms_per_minute > 0:
            raise ValueError(f"ms_per_minute must be positive, got {ms_per_minute}")
        self.ms_per_minute = ms_per_minute
        self.speed = 60_000.0 / ms_per_minute  # simulated seconds per real second
        self._monotonic = monotonic
        self._last_step = monotonic()

    async def pace_to(self, moment: datetime) -> None:
        """Wait out what is left of this minute's real time, then move the clock to `moment`."""
        remaining = self._last_step + self.ms_per_minute / 1000.0 - self._monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        self._last_step = self._monotonic()
        if _utc(moment) > self.now():
            self.set(moment)


def _resolve(future: asyncio.Future[None]) -> None:
    """Set a waiter's result on its own loop, from whatever thread we are on."""

    def _set() -> None:
        if not future.done():
            future.set_result(None)

    loop = future.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _set()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(_set)
