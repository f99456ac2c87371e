"""Replacing an open order (Alpaca's PATCH): the new order that takes its place.

The old order keeps every fill it had and ends `replaced` when the broker says so; the new
order is a fresh order of the same team with its own id, starting unfilled. Its quantity is
the one asked for, or else what the old order had left to fill, so that a price change alone
never buys more than was asked for in the first place.
"""

from __future__ import annotations

from dataclasses import replace as copy
from datetime import datetime

from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderStatus, OrderType
from qtc.domain.errors import InvalidSignal
from qtc.domain.ids import new_order_id
from qtc.domain.order_shapes import OrderShape, shape_problem
from qtc.domain.orders import Order, ReplaceRequest
from qtc.domain.signals import OrderIntent, ReplaceIntent, intent_record


def replacement(old: Order, intent: ReplaceIntent, now: datetime) -> Order:
    """The `pending_new` order that will replace `old`; InvalidSignal when the change is not
    one Alpaca allows for this order."""
    signal = intent_record(intent)
    if old.parent_id is None and old.order_class.value != "simple":
        raise InvalidSignal(
            f"order {old.order_id} is a {old.order_class.value} order: replace its legs", signal
        )
    if old.notional is not None:
        raise InvalidSignal(
            f"order {old.order_id} is a notional order: cancel it and send another", signal
        )
    if old.status is OrderStatus.HELD:
        raise InvalidSignal(f"order {old.order_id} is held until its entry fills", signal)
    kind = old.order_type
    if intent.limit_price is not None and not kind.has_limit:
        raise InvalidSignal(f"a {kind.value} order has no limit price to change", signal)
    if intent.stop_price is not None and not kind.has_stop:
        raise InvalidSignal(f"a {kind.value} order has no stop_price to change", signal)
    if intent.trail is not None and kind is not OrderType.TRAILING_STOP:
        raise InvalidSignal(f"a {kind.value} order has no trail to change", signal)
    quantity = intent.quantity if intent.quantity is not None else old.remaining_qty
    if quantity <= ZERO:
        raise InvalidSignal(f"order {old.order_id} has nothing left to fill", signal)
    by_percent = old.trail_percent is not None
    new = copy(
        old,
        order_id=new_order_id(old.team_id, int(now.timestamp() * 1000)),
        quantity=quantity,
        time_in_force=intent.time_in_force or old.time_in_force,
        limit_price=intent.limit_price or old.limit_price,
        stop_price=intent.stop_price or old.stop_price,
        trail_price=old.trail_price if intent.trail is None or by_percent else intent.trail,
        trail_percent=intent.trail
        if intent.trail is not None and by_percent
        else old.trail_percent,
        requested_price=intent.limit_price or intent.stop_price or old.requested_price,
        created_at=now,
        updated_at=now,
        status=OrderStatus.PENDING_NEW,
        filled_qty=ZERO,
        filled_avg_price=None,
        broker_order_id=None,
        reason=None,
        extra=dict(old.extra),
        not_found_count=0,
        broker_status=None,
        replaces=old.order_id,
        replaced_by=None,
    )
    problem = shape_problem(_shape(new), new.symbol, new.side)
    if problem is not None:
        raise InvalidSignal(problem, signal)
    return new


def _shape(order: Order) -> OrderShape:
    # a leg is checked on its own: its group's rules were checked when the group was placed
    return OrderShape(
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        trail_price=order.trail_price,
        trail_percent=order.trail_percent,
    )


def replace_request(new: Order, intent: ReplaceIntent) -> ReplaceRequest:
    """What the broker is asked to change, naming the new order by our id."""
    return ReplaceRequest(
        qty=new.quantity,
        time_in_force=intent.time_in_force,
        limit_price=intent.limit_price,
        stop_price=intent.stop_price,
        trail=intent.trail,
        client_order_id=new.order_id,
    )


def as_intent(order: Order) -> OrderIntent:
    """The order as the intent it would have been, for the affordability check."""
    return OrderIntent(
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        requested_price=order.requested_price,
        stop_price=order.stop_price,
        trail_price=order.trail_price,
        trail_percent=order.trail_percent,
    )
