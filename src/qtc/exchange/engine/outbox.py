"""The exchange's events on their way to listeners: queued while a command runs, sent after."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from qtc.domain.orders import TradeUpdate

Listener = Callable[[TradeUpdate], None]


class Outbox:
    """TradeUpdates in the order they happened, delivered synchronously to every listener."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queue: deque[TradeUpdate] = deque()
        self._delivering = False

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call `callback` with every update; returns the unsubscribe."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def push(self, update: TradeUpdate) -> None:
        """Queue an update; `deliver` sends it."""
        self._queue.append(update)

    def deliver(self) -> None:
        """Send queued events in order, once the engine's state is consistent again.

        A listener that calls back into the engine only queues more events; the outer
        delivery loop sends them after the current ones, so every listener sees one order.
        """
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._queue:
                update = self._queue.popleft()
                for listener in list(self._listeners):
                    listener(update)
        finally:
            self._delivering = False
