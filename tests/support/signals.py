"""Counting signals this test process receives (what a hostile strategy might send it)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def counting(signum: signal.Signals) -> Iterator[list[int]]:
    """A list that grows by one for every `signum` received while the block runs."""
    received: list[int] = []
    previous = signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield received
    finally:
        signal.signal(signum, previous)
