"""Faults the local exchange can inject on purpose, switchable at runtime by tests and admins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Status codes a 5xx burst may answer with; 504 is one alpaca-py retries by itself.
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504})


class FaultSettingError(ValueError):
    """A fault setting that cannot be applied (unknown name, negative count, bad status)."""


@dataclass
class Faults:
    """The fault switches; counts are consumed one request (or one stream event) at a time.

    - `http_429`: the next N REST requests answer 429.
    - `http_5xx`: the next N REST requests answer `status_5xx` (default 500).
    - `latency_ms`: every REST request waits this long before it is handled.
    - `duplicate_events`: the next N stream events are each sent twice.
    - `reorder_events`: the next N stream events are held back and released in reverse order
      (or after `reorder_hold_ms`, whichever comes first).
    - `fill_before_reply`: a submit's HTTP reply waits until its stream events were sent, then
      `reply_hold_ms` more (so the client surely reads the fill before the reply).
    - `reject_cancels`: the next N cancel requests are accepted (204) and then rejected by
      the venue on the stream (`pending_cancel`, then `order_cancel_rejected`): the order
      stays at work, as on Alpaca when a cancel comes too late to catch the order.
    - `drop_stream()`: closes every stream connection now.
    """

    http_429: int = 0
    http_5xx: int = 0
    status_5xx: int = 500
    latency_ms: int = 0
    duplicate_events: int = 0
    reorder_events: int = 0
    reorder_hold_ms: int = 1000
    fill_before_reply: bool = False
    reply_hold_ms: int = 100
    drops: int = 0
    reject_cancels: int = 0
    _drop_listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def take_http_error(self) -> int | None:
        """Consume one injected REST error, if any is pending, and return its status."""
        if self.http_429 > 0:
            self.http_429 -= 1
            return 429
        if self.http_5xx > 0:
            self.http_5xx -= 1
            return self.status_5xx
        return None

    def take_duplicate(self) -> bool:
        """Whether the next stream event should be sent twice (consumes one)."""
        if self.duplicate_events > 0:
            self.duplicate_events -= 1
            return True
        return False

    def on_drop(self, listener: Callable[[], None]) -> None:
        """Register what `drop_stream` calls (the stream hub closes its connections)."""
        self._drop_listeners.append(listener)

    def drop_stream(self) -> None:
        """Close every `trade_updates` connection now; clients must reconnect."""
        self.drops += 1
        for listener in list(self._drop_listeners):
            listener()

    def update(self, settings: dict[str, Any]) -> None:
        """Apply a JSON body of switches (see `snapshot` for the names); `drop_stream: true`
        drops the stream; `reset: true` first clears everything."""
        switches = {k: v for k, v in settings.items() if k not in ("reset", "drop_stream")}
        for name, value in switches.items():
            _check(name, value)  # all or nothing: a bad body changes no switch
        if settings.get("reset"):
            self.reset()
        for name, value in switches.items():
            setattr(self, name, value)
        if settings.get("drop_stream"):
            self.drop_stream()

    def reset(self) -> None:
        """Switch every fault off."""
        self.http_429 = self.http_5xx = self.latency_ms = 0
        self.duplicate_events = self.reorder_events = 0
        self.reject_cancels = 0
        self.status_5xx = 500
        self.reorder_hold_ms = 1000
        self.fill_before_reply = False
        self.reply_hold_ms = 100

    def snapshot(self) -> dict[str, Any]:
        """The current switches, as the admin endpoint shows them."""
        return {
            "reject_cancels": self.reject_cancels,
            "http_429": self.http_429,
            "http_5xx": self.http_5xx,
            "status_5xx": self.status_5xx,
            "latency_ms": self.latency_ms,
            "duplicate_events": self.duplicate_events,
            "reorder_events": self.reorder_events,
            "reorder_hold_ms": self.reorder_hold_ms,
            "fill_before_reply": self.fill_before_reply,
            "reply_hold_ms": self.reply_hold_ms,
            "drops": self.drops,
        }


_COUNTS = (
    "reject_cancels",
    "http_429",
    "http_5xx",
    "status_5xx",
    "latency_ms",
    "duplicate_events",
    "reorder_events",
    "reorder_hold_ms",
    "reply_hold_ms",
)


def _check(name: str, value: Any) -> None:
    if name == "fill_before_reply":
        if not isinstance(value, bool):
            raise FaultSettingError("fill_before_reply must be true or false")
        return
    if name not in _COUNTS:
        raise FaultSettingError(f"unknown fault {name!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSettingError(f"{name} must be a non-negative integer")
    if name == "status_5xx" and value not in SERVER_ERROR_STATUSES:
        raise FaultSettingError(f"status_5xx must be one of {sorted(SERVER_ERROR_STATUSES)}")
