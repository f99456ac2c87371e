"""Loading a team at startup: replay the ledger, then open orders and recent history."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from qtc.domain.decimals import normalize
from qtc.domain.orders import Order
from qtc.store.base import Store
from qtc.tracking.book import OrderIndex
from qtc.tracking.change import Change, apply_change
from qtc.tracking.ledger import Ledger

_PRICE_QUANTUM = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class Loaded:
    """What loading one team found."""

    fills: int
    open_orders: int
    stale_open_file: bool  # pending_orders.jsonl lagged behind history or ledger: rewrite it


def load_team(
    team_id: str,
    store: Store,
    ledger: Ledger,
    book: OrderIndex,
    cutoff: datetime,
    log: logging.Logger,
    intents: Iterable[Order] = (),
) -> Loaded:
    """Replay the team's ledger and hold its open orders and history newer than `cutoff`.

    The open-orders file is rewritten in batches, so after a crash it may lag: an order of the
    intent log (`intents`: the team's lines of it) that the file lacks is open, an order with
    a history line is closed, and filled quantities come from the ledger, never the file alone.
    """
    fills = ledger.load(team_id)
    closed: dict[str, Order] = {}
    for order in store.load_order_history(team_id):
        closed[order.order_id] = order  # a later line for the same order wins
    stale = False
    open_orders: dict[str, Order] = {}
    for order in store.load_open_orders(team_id):
        if order.order_id in closed or not order.is_open:
            stale = True
            continue
        open_orders[order.order_id] = order
    for order in intents:
        if order.order_id not in closed and order.order_id not in open_orders:
            open_orders[order.order_id] = order  # written ahead, then the crash came
            stale = True
    for order in open_orders.values():
        stale |= catch_up_with_ledger(order, ledger)
    for order in closed.values():
        catch_up_with_ledger(order, ledger)
    keep = [o for o in closed.values() if o.updated_at >= cutoff]
    for order in sorted([*keep, *open_orders.values()], key=lambda o: o.created_at):
        if order.team_id != team_id:
            log.warning(
                "Skipping order %s of team %s in %s's files", order.order_id, order.team_id, team_id
            )
            continue
        book.add(order)
    return Loaded(fills=fills, open_orders=len(open_orders), stale_open_file=stale)


def keep_intents_of(team_id: str, store: Store, intents: Iterable[Order]) -> None:
    """A team not in this run keeps the orders it had written ahead: they move from the
    intent log (about to be emptied) into its own open-orders file, for the run that has it."""
    closed = {order.order_id for order in store.load_order_history(team_id)}
    held = {order.order_id: order for order in store.load_open_orders(team_id)}
    for order in intents:
        if order.order_id not in closed:
            held.setdefault(order.order_id, order)
    store.save_open_orders_of({team_id: list(held.values())})


def catch_up_with_ledger(order: Order, ledger: Ledger) -> bool:
    """Move the order's fills up to what the ledger holds for it; True if it lagged."""
    held = ledger.held(order.order_id)
    if held.qty <= order.filled_qty:
        return False
    average = (held.notional / held.qty).quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
    catch_up = Change(
        at=order.updated_at, filled_qty=normalize(held.qty), filled_avg_price=normalize(average)
    )
    apply_change(order, catch_up)
    return True
