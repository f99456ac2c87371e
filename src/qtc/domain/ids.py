"""Order ids: unique forever, time-sortable, at most 48 characters, attributable to a team."""

from __future__ import annotations

import re
import secrets
import threading
import time

TEAM_ID = r"[A-Za-z0-9_]{1,21}"  # the one rule for a team id
TEAM_ID_PATTERN = re.compile(f"^{TEAM_ID}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_ID_MAX_LEN = 48


def valid_team_id(team_id: str) -> bool:
    """Team ids are 1-21 letters, digits or underscores so that an order id stays within 48."""
    return bool(TEAM_ID_PATTERN.match(team_id))


def _ulid(now_ms: int, random_bits: int) -> str:
    value = (now_ms << 80) | random_bits
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class _Monotonic:
    """ULID randomness that increases within one millisecond (the ULID spec's monotonic
    mode), so ids made in the same instant sort in the order they were made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = -1
        self._random = 0

    def next(self, ms: int) -> int:
        with self._lock:
            if ms == self._ms:
                self._random += 1
            else:
                self._ms = ms
                self._random = secrets.randbits(79)  # room for 2**79 increments
            return self._random


_randomness = _Monotonic()


def new_order_id(team_id: str, now_ms: int | None = None) -> str:
    """A new platform order id `{team_id}-{ULID}`, used as the broker's client_order_id.
    Ids made in one process in the same millisecond sort in the order they were made."""
    if not valid_team_id(team_id):
        raise ValueError(f"invalid team id {team_id!r}")
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{team_id}-{_ulid(ms, _randomness.next(ms))}"


def team_of_order_id(order_id: str) -> str | None:
    """The team that placed an order, read from its client_order_id; None if not ours."""
    team, sep, tail = order_id.rpartition("-")
    if not sep or len(tail) != 26 or not valid_team_id(team):
        return None
    if any(c not in _CROCKFORD for c in tail):
        return None
    return team
