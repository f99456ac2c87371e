"""The tracker's in-memory index of orders: open ones and recent history, by both ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from qtc.domain.orders import Order


def group_of(order: Order) -> str:
    """The key of the order's reservation group: a bracket/oco/oto leg's parent, else itself."""
    return order.parent_id or order.order_id


class OrderIndex:
    """Every order held in memory, per team in creation order, plus the open set, and the open
    set by reservation group with the groups touched since they were last read (`touched`).

    Per-team maps are created lazily so that idle teams cost nothing.
    """

    def __init__(self) -> None:
        self._all: dict[str, Order] = {}
        self._by_broker: dict[str, Order] = {}
        self._team: dict[str, dict[str, Order]] = {}
        self._open: dict[str, dict[str, Order]] = {}
        self._groups: dict[str, dict[str, dict[str, Order]]] = {}  # team -> group -> open
        self._touched: dict[str, set[str] | None] = {}  # team -> groups (None: every group)

    def __len__(self) -> int:
        return len(self._all)

    def add(self, order: Order) -> None:
        """Hold a new (or loaded) order; open orders join the open set."""
        self._all[order.order_id] = order
        self._team.setdefault(order.team_id, {})[order.order_id] = order
        if order.broker_order_id:
            self._by_broker[order.broker_order_id] = order
        if order.is_open:
            self._open.setdefault(order.team_id, {})[order.order_id] = order
            groups = self._groups.setdefault(order.team_id, {})
            groups.setdefault(group_of(order), {})[order.order_id] = order
        self.touch(order)

    def touch(self, order: Order) -> None:
        """The order's fields that reservations read (status, quantities, prices) changed."""
        touched = self._touched.get(order.team_id, set())
        if touched is not None:
            touched.add(group_of(order))
            self._touched[order.team_id] = touched

    def touch_team(self, team_id: str) -> None:
        """Any of the team's open orders may have changed."""
        self._touched[team_id] = None

    def take_touched(self, team_id: str) -> set[str] | None:
        """The team's groups touched since the last call (None: every group), forgotten."""
        return self._touched.pop(team_id, set())

    def open_group(self, team_id: str, group: str) -> list[Order]:
        """The team's open orders in one reservation group."""
        return list(self._groups.get(team_id, {}).get(group, {}).values())

    def open_groups(self, team_id: str) -> list[str]:
        """The keys of the team's reservation groups with an open order."""
        return list(self._groups.get(team_id, {}))

    def index_broker_id(self, order: Order) -> None:
        """Find the order by the broker's id from now on (once it is known)."""
        if order.broker_order_id:
            self._by_broker[order.broker_order_id] = order

    def find(self, order_id: str) -> Order | None:
        """An order by our id or by the broker's id."""
        return self._all.get(order_id) or self._by_broker.get(order_id)

    def find_for_broker(self, client_order_id: str, broker_order_id: str) -> Order | None:
        """The order a broker snapshot is about."""
        return self._all.get(client_order_id) or self._by_broker.get(broker_order_id)

    def close(self, order: Order) -> None:
        """Take a terminal order out of the open set (it stays in history)."""
        team_open = self._open.get(order.team_id)
        if team_open is not None:
            team_open.pop(order.order_id, None)
            if not team_open:
                del self._open[order.team_id]
        groups = self._groups.get(order.team_id)
        if groups is not None:
            key = group_of(order)
            members = groups.get(key)
            if members is not None:
                members.pop(order.order_id, None)
                if not members:
                    del groups[key]
            if not groups:
                del self._groups[order.team_id]
        self.touch(order)

    def drop(self, order: Order) -> None:
        """Forget an order entirely (cleanup of old history)."""
        self.close(order)
        self._all.pop(order.order_id, None)
        if order.broker_order_id:
            self._by_broker.pop(order.broker_order_id, None)
        team = self._team.get(order.team_id)
        if team is not None:
            team.pop(order.order_id, None)
            if not team:
                del self._team[order.team_id]

    def open_orders(self, team_id: str) -> list[Order]:
        """The team's open orders, oldest first."""
        return list(self._open.get(team_id, {}).values())

    def all_open(self) -> Iterator[Order]:
        """Every open order of every team."""
        for team_open in self._open.values():
            yield from team_open.values()

    def team_open_count(self, team_id: str) -> int:
        """How many of the team's orders are open."""
        return len(self._open.get(team_id, ()))

    def open_count(self) -> int:
        """How many orders are open."""
        return sum(len(t) for t in self._open.values())

    def status_counts(self) -> Counter[str]:
        """How many orders held in memory have each status (by its Alpaca spelling)."""
        return Counter(o.status.value for o in self._all.values())

    def team_orders_newest_first(self, team_id: str) -> Iterator[Order]:
        """The team's orders held in memory, newest first."""
        return reversed(self._team.get(team_id, {}).values())

    def terminal_before(self, cutoff: datetime) -> list[Order]:
        """Terminal orders last updated before `cutoff`."""
        return [o for o in self._all.values() if not o.is_open and o.updated_at < cutoff]
