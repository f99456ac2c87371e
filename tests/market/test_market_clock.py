"""Clocks: the manual clock wakes sleepers only when moved; accelerated time runs faster."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from qtc.clock import AcceleratedClock, ManualClock, RealClock

START = datetime(2025, 11, 24, 14, 30, tzinfo=UTC)


async def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Yield to the loop until `condition()` holds, failing after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


async def test_manual_clock_sleeper_wakes_only_when_advanced_past_its_time() -> None:
    clock = ManualClock(START)
    woke_at: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep_until(START + timedelta(minutes=1))
        woke_at.append(clock.now())

    task = asyncio.create_task(sleeper())
    await wait_for(lambda: clock.sleepers == 1)
    assert clock.next_wakeup() == START + timedelta(minutes=1)
    clock.advance(timedelta(seconds=59))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(timedelta(seconds=30))
    await asyncio.wait_for(task, 2)
    assert woke_at == [START + timedelta(seconds=89)]
    assert clock.sleepers == 0


async def test_manual_clock_past_time_returns_at_once_and_never_goes_back() -> None:
    clock = ManualClock(START)
    await asyncio.wait_for(clock.sleep_until(START), 1)
    await asyncio.wait_for(clock.sleep_until(START - timedelta(hours=1)), 1)
    clock.set(START + timedelta(hours=1))
    assert clock.now() == START + timedelta(hours=1)
    with pytest.raises(ValueError, match="never goes back"):
        clock.set(START)
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance(timedelta(seconds=-1))


async def test_manual_clock_wakes_many_sleepers_in_order_of_their_times() -> None:
    clock = ManualClock(START)
    woke: list[int] = []

    async def sleeper(minutes: int) -> None:
        await clock.sleep_until(START + timedelta(minutes=minutes))
        woke.append(minutes)

    tasks = [asyncio.create_task(sleeper(m)) for m in (3, 1, 2)]
    await wait_for(lambda: clock.sleepers == 3)
    clock.advance(timedelta(minutes=2))
    await wait_for(lambda: sorted(woke) == [1, 2])
    assert clock.sleepers == 1
    clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert sorted(woke) == [1, 2, 3]


async def test_manual_clock_can_be_advanced_from_another_thread() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=5)))
    await wait_for(lambda: clock.sleepers == 1)
    thread = threading.Thread(target=clock.advance, args=(timedelta(minutes=5),))
    thread.start()
    thread.join(timeout=5)
    await asyncio.wait_for(task, 2)
    assert clock.now() == START + timedelta(minutes=5)


async def test_cancelled_sleeper_is_forgotten() -> None:
    clock = ManualClock(START)
    task = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=5)))
    await wait_for(lambda: clock.sleepers == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0 and clock.next_wakeup() is None


def test_accelerated_clock_scales_real_time() -> None:
    real = [100.0]
    clock = AcceleratedClock(START, ms_per_minute=500, monotonic=lambda: real[0])
    assert clock.now() == START
    real[0] += 1.5  # three simulated minutes
    assert clock.now() == START + timedelta(minutes=3)
    assert clock.real_seconds_until(START + timedelta(minutes=5)) == pytest.approx(1.0)
    assert clock.real_seconds_until(START) == 0.0


async def test_accelerated_clock_sleep_reaches_the_simulated_time() -> None:
    clock = AcceleratedClock(START, ms_per_minute=1)  # a simulated minute per real millisecond
    target = clock.now() + timedelta(minutes=20)
    await asyncio.wait_for(clock.sleep_until(target), 2)
    assert clock.now() >= target


def test_accelerated_clock_refuses_bad_speed() -> None:
    with pytest.raises(ValueError, match="positive"):
        AcceleratedClock(START, ms_per_minute=0)


async def test_real_clock_is_utc_and_sleeps_until_the_time() -> None:
    clock = RealClock()
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    target = now + timedelta(milliseconds=20)
    await asyncio.wait_for(clock.sleep_until(target), 2)
    assert clock.now() >= target
    await asyncio.wait_for(clock.sleep_until(now - timedelta(days=1)), 1)
