"""The ledger side of the tracker: what each order holds in the ledger, and team portfolios."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from qtc.domain.fills import Fill, HeldFills
from qtc.domain.orders import Order
from qtc.domain.portfolio import Portfolio
from qtc.store.base import Store
from qtc.store.records import TradeRecord

_NOTHING = HeldFills()


class Ledger:
    """Books fills durably first, then folds them into the portfolio.

    `held` (order_id -> HeldFills) is built from trades.jsonl at load and moved only after an
    fsynced append, so it always says what the ledger on disk holds.
    """

    def __init__(self, store: Store, teams: Mapping[str, Decimal], log: logging.Logger) -> None:
        self._store = store
        self._log = log
        self.portfolios: dict[str, Portfolio] = {t: Portfolio.new(c) for t, c in teams.items()}
        self._held: dict[str, HeldFills] = {}

    def load(self, team_id: str) -> int:
        """Replay the team's ledger; returns the number of fills read."""
        records = self._store.load_trades(team_id)
        portfolio = self.portfolios[team_id]
        fresh = Portfolio.new(portfolio.initial_cash)
        for record in records:
            fill = record.to_fill()
            fresh.apply_fill(fill)
            self._hold(fill)
        self.portfolios[team_id] = fresh
        return len(records)

    def held(self, order_id: str) -> HeldFills:
        """What the ledger holds for one order."""
        return self._held.get(order_id, _NOTHING)

    def book(
        self, team_id: str, order: Order, fill: Fill, broker_order_id: str | None
    ) -> TradeRecord:
        """Append the fill to the team's ledger (fsynced), then apply it to the portfolio.

        OSError when the line could not be made durable: then nothing here changed."""
        record = replace(TradeRecord.of(team_id, order, fill), broker_order_id=broker_order_id)
        self._store.append_trade(record)
        self._hold(fill)
        self.portfolios[team_id].apply_fill(fill)
        return record

    def _hold(self, fill: Fill) -> None:
        held = self._held.get(fill.order_id, _NOTHING)
        self._held[fill.order_id] = HeldFills(
            qty=held.qty + fill.qty, notional=held.notional + fill.notional
        )
