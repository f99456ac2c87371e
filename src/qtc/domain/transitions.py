"""The order state machine: which status may follow which."""

from __future__ import annotations

from qtc.domain.enums import TERMINAL_STATUSES, OrderStatus
from qtc.domain.errors import IllegalTransition

S = OrderStatus

_WORKING = frozenset({S.NEW, S.PARTIALLY_FILLED})
_PAUSED = frozenset({S.HELD, S.SUSPENDED, S.CALCULATED, S.STOPPED, S.DONE_FOR_DAY})
_PENDING = frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE})
_REVIEW = frozenset({S.PENDING_REVIEW, S.ACCEPTED_FOR_BIDDING})

# Statuses reachable from each status. Same-status is a no-op, handled by `advance`.
# The order moves forward only: submitted -> working -> pending cancel/replace -> terminal,
# except that a cancel or replace the venue rejects puts the order back to work: the broker's
# word wins.
LEGAL_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_NEW: frozenset(
        {S.ACCEPTED} | _REVIEW | _WORKING | _PAUSED | _PENDING | TERMINAL_STATUSES
    ),
    S.PENDING_REVIEW: frozenset(
        {S.ACCEPTED, S.ACCEPTED_FOR_BIDDING} | _WORKING | _PAUSED | _PENDING | TERMINAL_STATUSES
    ),
    S.ACCEPTED_FOR_BIDDING: frozenset(
        {S.ACCEPTED} | _WORKING | _PAUSED | _PENDING | TERMINAL_STATUSES
    ),
    S.ACCEPTED: frozenset(_WORKING | _PAUSED | _PENDING | TERMINAL_STATUSES),
    S.NEW: frozenset({S.PARTIALLY_FILLED} | _PAUSED | _PENDING | TERMINAL_STATUSES),
    S.PARTIALLY_FILLED: frozenset(_PAUSED | _PENDING | TERMINAL_STATUSES),
    S.HELD: frozenset(_WORKING | _PAUSED - {S.HELD} | _PENDING | TERMINAL_STATUSES),
    S.SUSPENDED: frozenset(_WORKING | _PAUSED - {S.SUSPENDED} | _PENDING | TERMINAL_STATUSES),
    S.CALCULATED: frozenset(_PENDING | TERMINAL_STATUSES),
    S.STOPPED: frozenset(_PENDING | TERMINAL_STATUSES | {S.CALCULATED}),
    # A gtc order parked for the day works again the next session.
    S.DONE_FOR_DAY: frozenset(_WORKING | _PENDING | TERMINAL_STATUSES | {S.CALCULATED}),
    # Only the broker says how a pending cancel or replace ended: terminal, or back to work
    # when the venue rejected the cancel (order_cancel_rejected) or the replace.
    S.PENDING_CANCEL: frozenset(_WORKING | _PAUSED | TERMINAL_STATUSES),
    S.PENDING_REPLACE: frozenset({S.PENDING_CANCEL} | _WORKING | _PAUSED | TERMINAL_STATUSES),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
    S.REPLACED: frozenset(),
}


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """True when `new` may follow `current` (a repeat of the same status is not a transition)."""
    return new in LEGAL_TRANSITIONS[current]


def check_transition(current: OrderStatus, new: OrderStatus) -> bool:
    """Return True if the status changes, False for a repeat; raise IllegalTransition otherwise."""
    if new == current:
        return False
    if not can_transition(current, new):
        raise IllegalTransition(current, new)
    return True
