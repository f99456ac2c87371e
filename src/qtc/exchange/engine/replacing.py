"""What a replace (PATCH) asks for, as the request of the order that takes the old one's place."""

from __future__ import annotations

from qtc.domain.enums import OrderClass, OrderType
from qtc.domain.errors import OrderRejected
from qtc.domain.orders import OrderRequest, ReplaceRequest
from qtc.exchange.engine.book import BookEntry
from qtc.exchange.engine.triggers import set_mark


def replacement_request(
    old: BookEntry, change: ReplaceRequest, client_order_id: str
) -> OrderRequest:
    """The new order's request: the old order's fields, with those `change` gives; its qty
    defaults to what the old order has left; `trail` changes whichever trail the old one used.
    OrderRejected for a price the order's type does not have."""
    kind = old.order_type
    if change.limit_price is not None and not kind.has_limit:
        raise OrderRejected(f"limit_price cannot be replaced on a {kind} order")
    if change.stop_price is not None and not kind.has_stop:
        raise OrderRejected(f"stop_price cannot be replaced on a {kind} order")
    if change.trail is not None and kind is not OrderType.TRAILING_STOP:
        raise OrderRejected(f"trail cannot be replaced on a {kind} order")
    trail_price, trail_percent = old.trail_price, old.trail_percent
    if change.trail is not None:
        if trail_price is not None:
            trail_price = change.trail
        else:
            trail_percent = change.trail
    return OrderRequest(
        client_order_id=client_order_id,
        symbol=old.symbol,
        side=old.side,
        qty=change.qty if change.qty is not None else old.remaining,
        order_type=kind,
        time_in_force=change.time_in_force or old.time_in_force,
        limit_price=change.limit_price if change.limit_price is not None else old.limit_price,
        stop_price=change.stop_price if change.stop_price is not None else old.stop_price,
        trail_price=trail_price,
        trail_percent=trail_percent,
        order_class=OrderClass.SIMPLE,  # a leg's group is kept by the engine, not re-admitted
    )


def take_over(old: BookEntry, new: BookEntry, change: ReplaceRequest) -> None:
    """Link `new` as the successor of `old`: its group (a leg takes the old leg's place),
    a trailing stop's mark (its stop follows the new trail), and the trigger of a stop whose
    stop price did not move."""
    new.order_class, new.parent, new.replaces = old.order_class, old.parent, old.broker_order_id
    new.triggered = old.triggered and change.stop_price is None and change.trail is None
    if old.hwm is not None:
        set_mark(new, old.hwm)
    if old.parent is not None:
        legs = old.parent.legs
        legs[legs.index(old)] = new
    old.replaced_by = new.broker_order_id
