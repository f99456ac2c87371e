"""Time as QTC keeps it: aware UTC datetimes, whole minutes, ISO 8601 text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)

_FRACTION = re.compile(r"\.(\d{6})\d+")


def iso(at: datetime) -> str:
    """A timezone-aware datetime as ISO 8601 in UTC."""
    return at.astimezone(UTC).isoformat()


def parse_time(raw: str) -> datetime:
    """ISO 8601 / RFC 3339 text as an aware UTC datetime.

    Naive times are taken as UTC, `Z` is accepted, and digits past microseconds (Alpaca sends
    nanoseconds) are dropped. ValueError (or OverflowError) when it is not such a time.
    """
    parsed = datetime.fromisoformat(_FRACTION.sub(r".\1", raw.strip()))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
