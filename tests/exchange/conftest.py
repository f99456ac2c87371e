"""Builders for the exchange tests: an engine with an event recorder, bars and orders by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from qtc.domain.enums import OrderClass, OrderType, Side, TimeInForce
from qtc.domain.market import Bar
from qtc.domain.orders import BrokerOrder, OrderRequest, TradeUpdate
from qtc.exchange.engine.matching import ExchangeEngine

# Monday 2 March 2026, 09:30 New York: the first minute of a regular session.
T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SYMBOLS = ("AAPL", "MSFT", "BTC/USD")
D = Decimal


class Kit:
    """An engine, everything it emitted, and short ways to feed it bars and orders."""

    def __init__(self, **engine_kwargs: Any) -> None:
        engine_kwargs.setdefault("seed", 7)
        engine_kwargs.setdefault("symbols", SYMBOLS)
        self.engine = ExchangeEngine(**engine_kwargs)
        self.events: list[TradeUpdate] = []
        self.engine.subscribe(self.events.append)
        self._next_id = 0

    @staticmethod
    def at(minute: int, second: int = 0) -> datetime:
        return T0 + timedelta(minutes=minute, seconds=second)

    def bar(
        self,
        minute: int,
        open: str,
        high: str | None = None,
        low: str | None = None,
        close: str | None = None,
        volume: str = "1000",
        symbol: str = "AAPL",
    ) -> Bar:
        o = D(open)
        return Bar(
            symbol=symbol,
            timestamp=self.at(minute),
            open=o,
            high=D(high) if high is not None else o,
            low=D(low) if low is not None else o,
            close=D(close) if close is not None else o,
            volume=D(volume),
        )

    def feed(self, minute: int, *bars: Bar) -> None:
        """The bars of `minute` are complete: match, as the driver does at `minute + 1`."""
        self.engine.on_minute(self.at(minute), {b.symbol: b for b in bars})

    def request(
        self,
        side: str = "buy",
        qty: str = "10",
        order_type: str = "market",
        tif: str = "day",
        limit: str | None = None,
        symbol: str = "AAPL",
        cid: str | None = None,
        stop: str | None = None,
        trail_price: str | None = None,
        trail_percent: str | None = None,
        order_class: str = "simple",
        take_profit: str | None = None,
        stop_loss: str | None = None,
        stop_loss_limit: str | None = None,
    ) -> OrderRequest:
        if cid is None:
            self._next_id += 1
            cid = f"team1-{self._next_id:026d}"

        def dec(value: str | None) -> Decimal | None:
            return D(value) if value is not None else None

        return OrderRequest(
            client_order_id=cid,
            symbol=symbol,
            side=Side(side),
            qty=D(qty),
            order_type=OrderType(order_type),
            time_in_force=TimeInForce(tif),
            limit_price=dec(limit),
            stop_price=dec(stop),
            trail_price=dec(trail_price),
            trail_percent=dec(trail_percent),
            order_class=OrderClass(order_class),
            take_profit_limit_price=dec(take_profit),
            stop_loss_stop_price=dec(stop_loss),
            stop_loss_limit_price=dec(stop_loss_limit),
        )

    def now(self, broker_order_id: str) -> BrokerOrder:
        """The order as the exchange reports it now."""
        return self.engine.get(broker_order_id)

    def events_of(self, broker_order_id: str) -> list[str]:
        """The events of one order, in order."""
        return [e[0] for e in self.trail(broker_order_id)]

    def order(self, *, at: datetime | None = None, **kwargs: Any) -> BrokerOrder:
        """Submit an order (by default 10 s into minute 1, after minute 0's bar was fed)."""
        return self.engine.submit(self.request(**kwargs), at or self.at(1, 10))

    def trail(self, broker_order_id: str) -> list[tuple[str, str, str | None, str | None]]:
        """(event, cumulative filled_qty, fill qty, fill price) of one order, as strings."""
        return [
            (
                u.event.value,
                str(u.order.filled_qty),
                None if u.qty is None else str(u.qty),
                None if u.price is None else str(u.price),
            )
            for u in self.events
            if u.order.broker_order_id == broker_order_id
        ]


@pytest.fixture
def kit() -> Kit:
    """A fresh engine whose AAPL last traded at 100 with 100 shares of budget left."""
    k = Kit()
    k.feed(0, k.bar(0, "100", volume="1000"))
    return k


@pytest.fixture
def make_kit() -> Callable[..., Kit]:
    """Build a Kit with other engine settings (seed, buying_power, participation...)."""
    return Kit
