"""Order ids: unique forever, time-sortable, at most 48 characters, attributable to a team."""

from __future__ import annotations

import re
import secrets
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


def new_order_id(team_id: str, now_ms: int | None = None) -> str:
    """A new platform order id `{team_id}-{ULID}`, used as the broker's client_order_id."""
    if not valid_team_id(team_id):
        raise ValueError(f"invalid team id {team_id!r}")
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{team_id}-{_ulid(ms, secrets.randbits(80))}"


def team_of_order_id(order_id: str) -> str | None:
    """The team that placed an order, read from its client_order_id; None if not ours."""
    team, sep, tail = order_id.rpartition("-")
    if not sep or len(tail) != 26 or not valid_team_id(team):
        return None
    if any(c not in _CROCKFORD for c in tail):
        return None
    return team
