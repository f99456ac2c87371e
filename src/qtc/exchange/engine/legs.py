"""Order classes: the legs of bracket, oco and oto orders, and how a group's orders affect
each other.

A bracket (or oto) is an entry with exit legs on the other side, `held` until the entry has
filled completely; an entry that ends after a partial fill releases its legs for the filled
quantity, one that ends with nothing filled cancels them. An oco is a take-profit limit (the
parent) and a stop-loss leg, both working at once. A bracket's two exits and an oco's two
orders are one-cancels-other: the first execution on one cancels the other in the same step,
and canceling one cancels the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtc.domain.decimals import ZERO, normalize
from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.book import BookEntry

NewEntry = Callable[..., BookEntry]


def build_legs(request: OrderRequest, parent: BookEntry, make: NewEntry) -> list[BookEntry]:
    """The legs of `request` (none for a simple order), linked to `parent`; `make` builds a
    BookEntry with fresh ids from the fields that differ from the parent's."""
    order_class = request.order_class
    if order_class is OrderClass.SIMPLE:
        return []
    if order_class is OrderClass.OCO:
        side, status = parent.side, OrderStatus.NEW
    else:
        side = Side.SELL if parent.side is Side.BUY else Side.BUY
        status = OrderStatus.HELD
    legs = []
    if request.take_profit_limit_price is not None and order_class is not OrderClass.OCO:
        legs.append(
            make(
                side=side,
                order_type=OrderType.LIMIT,
                limit_price=normalize(request.take_profit_limit_price),
                status=status,
            )
        )
    if request.stop_loss_stop_price is not None:
        stop_limit = request.stop_loss_limit_price
        legs.append(
            make(
                side=side,
                order_type=OrderType.STOP if stop_limit is None else OrderType.STOP_LIMIT,
                limit_price=None if stop_limit is None else normalize(stop_limit),
                stop_price=normalize(request.stop_loss_stop_price),
                status=status,
            )
        )
    for leg in legs:
        leg.parent = parent
    parent.legs = legs
    return legs


def leg_of(
    parent: BookEntry, seq: int, broker_order_id: str, client_order_id: str, **fields: Any
) -> BookEntry:
    """A leg of `parent`: its own ids, the parent's symbol, qty, class and times; it reserves
    nothing (a group reserves for its entry only)."""
    return BookEntry(
        seq=seq,
        broker_order_id=broker_order_id,
        client_order_id=client_order_id,
        symbol=parent.symbol,
        qty=parent.qty,
        time_in_force=parent.time_in_force,
        order_class=parent.order_class,
        reserve_price=ZERO,
        submitted_at=parent.submitted_at,
        updated_at=parent.submitted_at,
        **fields,
    )


def is_entry(entry: BookEntry) -> bool:
    """True for a bracket or oto entry: the order whose fill releases the legs."""
    return entry.order_class in (OrderClass.BRACKET, OrderClass.OTO) and entry.parent is None


def others(entry: BookEntry) -> list[BookEntry]:
    """The open orders that one-cancels-other ties to `entry` (none outside such a group)."""
    parent = entry.parent
    if entry.order_class is OrderClass.OCO:
        group = [entry.parent or entry, *(entry.parent or entry).legs]
    elif entry.order_class is OrderClass.BRACKET and parent is not None:
        group = list(parent.legs)
    else:
        return []
    return [e for e in group if e is not entry and e.is_open]
