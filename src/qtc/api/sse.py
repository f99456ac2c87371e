"""Server-Sent Events of one team's order updates and fills, with heartbeat comments."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from qtc.api.schemas import OrderOut, plain
from qtc.tracking.ports import TeamEvent, TrackerView

# Sent first, so a client knows the subscription is live before anything can be missed.
CONNECTED = b"retry: 3000\n: connected\n\n"
HEARTBEAT = b": heartbeat\n\n"
_ORDER_FIELDS = frozenset(OrderOut.model_fields)


def format_event(event_id: int, event: TeamEvent) -> bytes:
    """One SSE message: `id`, `event` (order or fill) and the JSON `data`; an order carries
    exactly the fields the REST routes show (tracker bookkeeping is left out)."""
    data = dict(event.data)
    if event.kind == "order":
        data = {k: v for k, v in data.items() if k in _ORDER_FIELDS}
    text = json.dumps(plain(data), separators=(",", ":"))
    return f"id: {event_id}\nevent: {event.kind}\ndata: {text}\n\n".encode()


async def team_events(
    tracker: TrackerView, team_id: str, heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    """Stream the team's events until the client goes away; then unsubscribe."""
    queue = tracker.subscribe(team_id)
    try:
        yield CONNECTED
        event_id = 0
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=heartbeat_seconds)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if event.team_id != team_id:
                continue  # never another team's event, whatever the tracker sends
            event_id += 1
            yield format_event(event_id, event)
    finally:
        tracker.unsubscribe(team_id, queue)
