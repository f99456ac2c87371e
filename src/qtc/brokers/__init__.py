"""Brokers: the `Broker` port, the in-process simulated broker and the Alpaca adapter."""

from qtc.brokers.base import Broker, ListStatus

__all__ = ["Broker", "ListStatus"]
