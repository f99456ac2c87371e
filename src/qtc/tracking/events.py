"""Live team events for subscribers (the API's server-sent events)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from qtc.tracking.ports import TeamEvent

QUEUE_SIZE = 1000


class EventHub:
    """Fan-out of TeamEvents to per-team bounded queues; a slow reader loses its oldest events."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, list[asyncio.Queue[TeamEvent]]] = {}

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        """A new queue receiving the team's events from now on."""
        queue: asyncio.Queue[TeamEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(team_id, []).append(queue)
        return queue

    def unsubscribe(self, team_id: str, queue: asyncio.Queue[TeamEvent]) -> None:
        """Stop delivering to `queue`."""
        queues = self._subscribers.get(team_id, [])
        if queue in queues:
            queues.remove(queue)
        if not queues:
            self._subscribers.pop(team_id, None)

    def subscriber_count(self) -> int:
        """How many queues are subscribed, over every team."""
        return sum(len(queues) for queues in self._subscribers.values())

    def wants(self, team_id: str) -> bool:
        """True when someone listens to the team (so events are worth building)."""
        return team_id in self._subscribers

    def publish(
        self, team_id: str, kind: Literal["order", "fill"], data: Mapping[str, Any], at: datetime
    ) -> None:
        """Deliver one event to every subscriber of the team."""
        queues = self._subscribers.get(team_id)
        if not queues:
            return
        event = TeamEvent(kind=kind, team_id=team_id, data=data, at=at)
        for queue in queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
