"""Server-Sent Events of one team's order updates and fills, with heartbeat comments.

Event ids are the team's (`tracking.events`): a client that reconnects with `Last-Event-ID`
(or `?since=`) first gets the retained events it missed, or an `event: reset` when some are
no longer retained, meaning: reload what you show, then carry on with this stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable

from qtc.api.schemas import OrderOut, plain
from qtc.tracking.ports import TeamEvent, TrackerView

# Sent first, so a client knows the subscription is live before anything can be missed.
CONNECTED = b"retry: 3000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"
_ORDER_FIELDS = frozenset(OrderOut.model_fields)


def format_event(event: TeamEvent) -> bytes:
    """One SSE message: `id`, `event` (order or fill) and the JSON `data`; an order carries
    exactly the fields the REST routes show (tracker bookkeeping is left out)."""
    data = dict(event.data)
    if event.kind == "order":
        data = {k: v for k, v in data.items() if k in _ORDER_FIELDS}
    text = json.dumps(plain(data), separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {text}\n\n".encode()


def format_reset(last_id: int) -> bytes:
    """`event: reset`: events were missed beyond the retained window; `id` is the latest."""
    text = json.dumps({"last_event_id": last_id, "reason": "events were missed; reload"})
    return f"id: {last_id}\nevent: reset\ndata: {text}\n\n".encode()


class _Resume:
    """What one connection has sent: each event once, in id order, gaps filled or reset."""

    def __init__(self, tracker: TrackerView, team_id: str, seen: int) -> None:
        self.tracker = tracker
        self.team_id = team_id
        self.seen = seen

    def catch_up(self) -> Iterable[bytes]:
        """The events after the last one sent (a reset when they are gone)."""
        missed = self.tracker.events_since(self.team_id, self.seen)
        if missed is None:
            self.seen = self.tracker.last_event_id(self.team_id)
            return [format_reset(self.seen)]
        return [self._sent(event) for event in missed]

    def deliver(self, event: TeamEvent) -> Iterable[bytes]:
        """A live event: skipped when already sent, after the missed ones when a slow
        connection's queue dropped some."""
        if event.id <= self.seen:
            return []
        if event.id > self.seen + 1:
            return self.catch_up()
        return [self._sent(event)]

    def _sent(self, event: TeamEvent) -> bytes:
        self.seen = event.id
        return format_event(event)


async def team_events(
    tracker: TrackerView, team_id: str, heartbeat_seconds: float, last_id: int | None = None
) -> AsyncIterator[bytes]:
    """Stream the team's events after `last_id` (None: from now) until the client goes away;
    then unsubscribe."""
    queue = tracker.subscribe(team_id)
    start = tracker.last_event_id(team_id) if last_id is None else last_id
    resume = _Resume(tracker, team_id, start)
    try:
        yield CONNECTED
        for message in resume.catch_up():
            yield message
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=heartbeat_seconds)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if event.team_id != team_id:
                continue  # never another team's event, whatever the tracker sends
            for message in resume.deliver(event):
                yield message
    finally:
        tracker.unsubscribe(team_id, queue)
