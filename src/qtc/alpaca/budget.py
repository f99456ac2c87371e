"""One sliding-window rate limiter shared by every REST call to the broker's account."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter

from qtc.store.jsonl import FsyncCounter, append_line, make_private_dir, write_atomic

log = logging.getLogger("qtc.ratelimit")


class RequestBudget:
    """At most `limit` requests in any `window` seconds; thread-safe and usable from async code.

    Each caller reserves the next free slot and waits until it comes: slot i is never earlier
    than slot i - limit plus the window, so no window of that length ever holds more than
    `limit` requests, whichever thread or task asked.
    """

    def __init__(
        self,
        limit: int = 190,
        window: float = 60.0,
        now: Callable[[], float] = time.monotonic,
        journal: Path | None = None,
        on_answer: Callable[[int | None], None] | None = None,
    ) -> None:
        """With a `journal` (and a wall-clock `now`), the slots taken are appended to that file
        and read back at start: a process restarted within the window inherits what its
        predecessor spent, so a crash loop cannot exceed the account's limit.

        `on_answer` hears the HTTP status of every request sent through the budget (None when
        no answer came), from the thread that sent it."""
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._now = now
        self._slots: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.requests = 0
        self.on_answer = on_answer
        self._journal: Path | None = None
        self._fsync = FsyncCounter()
        if journal is not None:
            self._slots.extend(self._recent_slots(journal))
            make_private_dir(journal.parent)
            # keep only the window that still matters, then append to it
            write_atomic(journal, list(self._slots), self._fsync)
            self._journal = journal

    def _recent_slots(self, journal: Path) -> list[float]:
        try:
            lines = journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        since = self._now() - self.window
        slots = []
        for line in lines:
            try:
                slot = float(line)
            except ValueError:
                continue  # a torn last line: the slot was not spent
            if slot > since:
                slots.append(slot)
        return sorted(slots)[-self.limit :]

    def reserve(self) -> float:
        """Claim the next slot; returns how many seconds the caller must wait before using it."""
        with self._lock:
            now = self._now()
            slot = now
            if self._slots:
                slot = max(slot, self._slots[-1])
            if len(self._slots) == self.limit:
                slot = max(slot, self._slots[0] + self.window)
            self._slots.append(slot)
            self.requests += 1
            if self._journal is not None:
                try:
                    append_line(self._journal, slot, self._fsync, point="requests_log")
                except OSError as e:
                    # the request still waits for its slot; only a restart's memory of it is lost
                    log.error("Cannot record an Alpaca request slot in %s: %s", self._journal, e)
            return slot - now

    def answered(self, status: int | None) -> None:
        """One request sent under this budget ended with HTTP `status` (None: no answer)."""
        if self.on_answer is not None:
            self.on_answer(status)

    def close(self) -> None:
        self._journal = None

    async def acquire(self) -> None:
        """Wait (without blocking the event loop) until a request may be sent."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    def acquire_blocking(self) -> None:
        """Block this (worker) thread until a request may be sent."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)


class LimitedHTTPAdapter(HTTPAdapter):
    """A requests transport that waits for the limiter before every request, counts what it
    sends, reports how each ended, and puts a timeout on requests that have none (alpaca-py
    sets none)."""

    def __init__(self, limiter: RequestBudget, timeout: float) -> None:
        super().__init__()
        self.limiter = limiter
        self.timeout = timeout
        self.sent = 0
        self._count_lock = threading.Lock()

    def send(  # type: ignore[override]
        self, request: PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> Response:
        """Send one request once the limiter allows it."""
        self.limiter.acquire_blocking()
        with self._count_lock:
            self.sent += 1
        try:
            response = super().send(
                request, timeout=self.timeout if timeout is None else timeout, **kwargs
            )
        except Exception:
            self.limiter.answered(None)
            raise
        self.limiter.answered(response.status_code)
        return response


def limit_rest_client(client: Any, limiter: RequestBudget, timeout: float) -> LimitedHTTPAdapter:
    """Route every request of an alpaca-py REST client through `limiter`; its own retries are
    switched off so that the adapter's backoff owns them and every request is counted."""
    # alpaca-py treats retry_attempts=0 as "use the default (3)", so the attribute is set here.
    client._retry = 0
    adapter = LimitedHTTPAdapter(limiter, timeout)
    session: Session = client._session
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
