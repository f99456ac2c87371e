"""Live team events for subscribers (the API's server-sent events), numbered per team.

Each team's events carry increasing ids, the same for every connection, and the last
`RETAINED` of them are kept (from a team's first subscription on), so a client that
reconnects with the last id it saw gets what it missed. Ids start from the run's start time
(`ids_from`), so an id from an earlier run is never taken for one of this run's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from qtc.tracking.ports import TeamEvent

QUEUE_SIZE = 1000
RETAINED = 1000
_IDS_PER_SECOND = 1_000_000


def ids_from(started: datetime) -> int:
    """The id before a run's first event: a million per second of the run's start time."""
    return int(started.timestamp()) * _IDS_PER_SECOND


class EventHub:
    """Fan-out of TeamEvents to per-team bounded queues; a slow reader loses its oldest events."""

    def __init__(
        self, queue_size: int = QUEUE_SIZE, *, first_id: int = 0, retained: int = RETAINED
    ) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, list[asyncio.Queue[TeamEvent]]] = {}
        self._first_id = first_id
        self._retained_size = retained
        self._retained: dict[str, deque[TeamEvent]] = {}
        self._last_id: dict[str, int] = {}

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        """A new queue receiving the team's events from now on (kept from now on, too)."""
        queue: asyncio.Queue[TeamEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(team_id, []).append(queue)
        self._retained.setdefault(team_id, deque(maxlen=self._retained_size))
        return queue

    def last_event_id(self, team_id: str) -> int:
        """The id of the team's latest event (the run's first id - 1 when none yet)."""
        return self._last_id.get(team_id, self._first_id)

    def events_since(self, team_id: str, last_id: int) -> list[TeamEvent] | None:
        """The retained events after `last_id`, oldest first; None when some of them are no
        longer retained (or `last_id` is not an id of this run)."""
        last = self.last_event_id(team_id)
        window = self._retained.get(team_id) or deque()
        oldest = window[0].id if window else last + 1
        if not oldest - 1 <= last_id <= last:
            return None
        return [event for event in window if event.id > last_id]

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
        """True once someone has listened to the team (so events are worth building)."""
        return team_id in self._retained

    def publish(
        self, team_id: str, kind: Literal["order", "fill"], data: Mapping[str, Any], at: datetime
    ) -> None:
        """Number the event, keep it, and deliver it to every subscriber of the team."""
        window = self._retained.get(team_id)
        if window is None:
            return
        event_id = self._last_id[team_id] = self.last_event_id(team_id) + 1
        event = TeamEvent(kind=kind, team_id=team_id, data=data, at=at, id=event_id)
        window.append(event)
        for queue in self._subscribers.get(team_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
