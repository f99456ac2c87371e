"""The shared REST rate limiter never lets more than `limit` requests into any window."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from qtc.alpaca.budget import RequestBudget


class FakeTime:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def max_in_window(times: list[float], window: float) -> int:
    """The most request times that fall in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best = 0
    j = 0
    for i, start in enumerate(ordered):
        while ordered[j] < start - window + 1e-12:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_first_requests_up_to_the_limit_go_at_once() -> None:
    clock = FakeTime()
    limiter = RequestBudget(limit=5, window=60.0, now=clock)
    assert [limiter.reserve() for _ in range(5)] == [0.0] * 5


def test_the_request_past_the_limit_waits_for_the_oldest_to_leave_the_window() -> None:
    clock = FakeTime()
    limiter = RequestBudget(limit=3, window=60.0, now=clock)
    for _ in range(3):
        limiter.reserve()
    clock.t += 10
    assert limiter.reserve() == 50.0
    assert limiter.reserve() == 50.0
    clock.t += 60
    assert limiter.reserve() == 0.0


def test_a_burst_of_a_thousand_never_exceeds_the_limit_in_any_window() -> None:
    clock = FakeTime()
    limiter = RequestBudget(limit=200, window=60.0, now=clock)
    sent: list[float] = []
    for i in range(1000):
        clock.t += 0.01 * (i % 7)
        sent.append(clock.t + limiter.reserve())
    assert max_in_window(sent, 60.0) == 200
    assert limiter.requests == 1000


async def test_async_acquire_spaces_a_burst_in_real_time() -> None:
    limiter = RequestBudget(limit=4, window=0.2)
    started: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        started.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(12)))
    assert len(started) == 12
    assert max_in_window(started, 0.2 - 0.01) <= 4


def test_threads_share_one_limit() -> None:
    limiter = RequestBudget(limit=5, window=0.2)
    started: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        limiter.acquire_blocking()
        with lock:
            started.append(time.monotonic())

    threads = [threading.Thread(target=one) for _ in range(15)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(started) == 15
    assert max_in_window(started, 0.2 - 0.01) <= 5


def test_a_restarted_limiter_inherits_the_budget_its_predecessor_spent(tmp_path: Path) -> None:
    clock = {"t": 1_000_000.0}
    journal = tmp_path / "alpaca_requests.log"
    first = RequestBudget(limit=5, window=60.0, now=lambda: clock["t"], journal=journal)
    assert [first.reserve() for _ in range(5)] == [0.0] * 5
    first.close()  # the process dies here; a new one starts 10 s later

    clock["t"] += 10.0
    second = RequestBudget(limit=5, window=60.0, now=lambda: clock["t"], journal=journal)
    assert second.reserve() == 50.0  # waits until the first request leaves the window
    second.close()

    clock["t"] += 120.0  # long after: old requests no longer count, and are compacted away
    third = RequestBudget(limit=5, window=60.0, now=lambda: clock["t"], journal=journal)
    assert third.reserve() == 0.0
    third.close()
    assert len(journal.read_text().splitlines()) == 1
