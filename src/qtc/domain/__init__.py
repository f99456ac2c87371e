"""The rules of the game: orders, their states, fills, signals and portfolios. No I/O."""

from qtc.domain.decimals import ZERO, dec_str, to_decimal
from qtc.domain.enums import (
    TERMINAL_STATUSES,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TradeEvent,
)
from qtc.domain.fills import Fill, HeldFills, derive_fill
from qtc.domain.market import Bar, is_crypto
from qtc.domain.orders import BrokerOrder, Order, OrderRequest, StreamConnected, TradeUpdate
from qtc.domain.portfolio import Portfolio, Position, Reservations, reservations
from qtc.domain.signals import CancelIntent, Intent, OrderIntent, validate_signal

__all__ = [
    "TERMINAL_STATUSES",
    "ZERO",
    "Bar",
    "BrokerOrder",
    "CancelIntent",
    "Fill",
    "HeldFills",
    "Intent",
    "Order",
    "OrderIntent",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Portfolio",
    "Position",
    "Reservations",
    "Side",
    "StreamConnected",
    "TimeInForce",
    "TradeEvent",
    "TradeUpdate",
    "dec_str",
    "derive_fill",
    "is_crypto",
    "reservations",
    "to_decimal",
    "validate_signal",
]
