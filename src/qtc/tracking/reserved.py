"""What a team's open orders hold back, kept up to date group by group instead of summed afresh
for every submit (a submit at 1,000 open orders would otherwise walk all 1,000).

A reservation group is an order with its bracket/oco/oto legs (`book.group_of`). A group that
reserves at fixed prices (limit buys, every sell) is summed once and kept; the book says which
groups were touched since (an order added, changed or closed) and only those are summed again.
A group whose buy reserves at the market (market, stop and trailing buys) is summed at the
current prices on every read. The totals equal `portfolio.reservations` over the team's open
orders; with QTC_VERIFY_RESERVATIONS=1 (the tests set it) every read checks that they do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from qtc.domain.decimals import ZERO
from qtc.domain.enums import Side
from qtc.domain.orders import Order
from qtc.domain.portfolio import Reservations, reservations
from qtc.tracking.book import OrderIndex

_NO_PRICES: Mapping[str, Decimal] = {}


def _at_market(order: Order) -> bool:
    """Whether the order's reservation moves with the market price."""
    return order.side is Side.BUY and not (
        order.order_type.has_limit and order.limit_price is not None
    )


@dataclass(slots=True)
class _Team:
    """One team's fixed-price groups (summed) and its at-market groups (summed on read)."""

    fixed: dict[str, Reservations] = field(default_factory=dict)
    cash: Decimal = ZERO
    shares: dict[str, Decimal] = field(default_factory=dict)
    at_market: set[str] = field(default_factory=set)

    def remove(self, group: str) -> None:
        self.at_market.discard(group)
        held = self.fixed.pop(group, None)
        if held is None:
            return
        self.cash -= held.cash
        for symbol, qty in held.shares.items():
            left = self.shares[symbol] - qty
            if left:
                self.shares[symbol] = left
            else:
                del self.shares[symbol]

    def add(self, group: str, held: Reservations) -> None:
        self.fixed[group] = held
        self.cash += held.cash
        for symbol, qty in held.shares.items():
            self.shares[symbol] = self.shares.get(symbol, ZERO) + qty


class TeamReservations:
    """Each team's reservations, read from the book's open orders as they change."""

    def __init__(self, book: OrderIndex, market_margin: Decimal) -> None:
        self._book = book
        self._margin = market_margin
        self._teams: dict[str, _Team] = {}
        self._verify = os.environ.get("QTC_VERIFY_RESERVATIONS") == "1"

    def of(self, team_id: str, prices: Mapping[str, Decimal]) -> Reservations:
        """What the team's open orders hold back at `prices`."""
        team = self._refreshed(team_id)
        cash = team.cash
        shares = dict(team.shares)
        for group in team.at_market:
            held = reservations(self._book.open_group(team_id, group), prices, self._margin)
            cash += held.cash
            for symbol, qty in held.shares.items():
                shares[symbol] = shares.get(symbol, ZERO) + qty
        result = Reservations(cash=cash, shares=shares)
        if self._verify:
            self._check(team_id, prices, result)
        return result

    def _refreshed(self, team_id: str) -> _Team:
        touched = self._book.take_touched(team_id)
        team = self._teams.get(team_id)
        if team is None or touched is None:
            team = self._teams[team_id] = _Team()
            touched = set(self._book.open_groups(team_id))
        for group in touched:
            team.remove(group)
            members = self._book.open_group(team_id, group)
            if not members:
                continue
            if any(_at_market(order) for order in members):
                team.at_market.add(group)
            else:
                team.add(group, reservations(members, _NO_PRICES, self._margin))
        if not team.fixed and not team.at_market:
            del self._teams[team_id]  # idle teams cost nothing
        return team

    def _check(self, team_id: str, prices: Mapping[str, Decimal], kept: Reservations) -> None:
        full = reservations(self._book.open_orders(team_id), prices, self._margin)
        shares = {s: q for s, q in full.shares.items() if q}
        if (full.cash, shares) != (kept.cash, {s: q for s, q in kept.shares.items() if q}):
            raise AssertionError(
                f"reservations of {team_id} drifted: kept {kept}, summed afresh {full}"
            )
