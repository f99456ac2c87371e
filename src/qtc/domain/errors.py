"""The exception tree, keyed to what the system does about each error.

QTCError
 +-- BrokerError                  anything the broker said or failed to say
 |    +-- TransientBrokerError    retry later: nothing was decided
 |    |    +-- RateLimited        429: back off, then retry
 |    |    +-- BrokerUnavailable  5xx, timeout, connection error (outcome unknown for a submit)
 |    +-- OrderRejected           the broker refused the order: record it and tell the team
 |    +-- OrderNotFound           no such order at the broker (a real 404)
 |    +-- OrderNotCancelable      the order is already closed (or otherwise cannot be canceled)
 |    +-- BrokerAuthError         credentials refused: fatal for the run
 |    +-- BrokerProtocolError     the broker sent something we cannot read (a bad payload)
 |         +-- UnreadableOrder    one order QTC cannot read (unknown status): quarantine it alone
 +-- InvalidSignal                a strategy's output cannot become an order: tell the team
 +-- IllegalTransition            an update would move an order backwards: ignore it
 +-- OrderAccessError             a team asked about an order that is not theirs or not there
 +-- OrderNotRecorded             the write-ahead failed (disk): the order was not sent
"""

from __future__ import annotations

from typing import Any


class QTCError(Exception):
    """Base of every error QTC raises on purpose."""


class BrokerError(QTCError):
    """Something went wrong talking to the broker."""


class TransientBrokerError(BrokerError):
    """Nothing was decided; the same call may succeed later."""


class RateLimited(TransientBrokerError):
    """The broker answered 429."""

    def __init__(self, message: str = "rate limited", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerUnavailable(TransientBrokerError):
    """5xx, timeout or connection error; for a submit the outcome is unknown."""


class OrderRejected(BrokerError):
    """The broker refused the order; `reason` is shown to the team."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OrderNotFound(BrokerError):
    """The broker has no order with this id."""


class OrderNotCancelable(BrokerError):
    """The order cannot be canceled (already closed); `status` is its status when known."""

    def __init__(self, message: str, status: Any = None) -> None:
        super().__init__(message)
        self.status = status


class BrokerAuthError(BrokerError):
    """The broker refused our credentials."""


class BrokerProtocolError(BrokerError):
    """The broker sent something QTC does not understand (an unknown status, a bad payload)."""


class UnreadableOrder(BrokerProtocolError):
    """One order whose payload QTC cannot read; it is quarantined, everything else goes on."""

    def __init__(self, order: Any, message: str) -> None:
        super().__init__(message)
        self.order = order  # an orders.UnreadableOrder


class InvalidSignal(QTCError):
    """A strategy's signal cannot become an order; the message says why."""

    def __init__(self, message: str, signal: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.signal = signal


class IllegalTransition(QTCError):
    """An update would move an order backwards."""

    def __init__(self, current: Any, new: Any) -> None:
        super().__init__(f"illegal transition {current} -> {new}")
        self.current = current
        self.new = new


class OrderAccessError(QTCError):
    """Base for errors about a team's own orders, mapped to HTTP by the API."""


class UnknownOrder(OrderAccessError):
    """No order with this id for this team (another team's order answers the same)."""


class OrderClosed(OrderAccessError):
    """The order is already closed; `status` tells how it ended."""

    def __init__(self, order_id: str, status: Any) -> None:
        super().__init__(f"order {order_id} is already {status}")
        self.order_id = order_id
        self.status = status


class ReadOnlyServer(OrderAccessError):
    """This server only shows a competition's files (`qtc serve`): it changes no order."""

    def __init__(self, action: str = "canceled") -> None:
        super().__init__(f"this server is read-only: orders cannot be {action}")


class OrderNotRecorded(QTCError):
    """A new order could not be written ahead (a full or failing disk), so it was not sent."""
