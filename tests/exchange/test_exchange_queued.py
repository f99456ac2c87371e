"""Orders accepted while the equity market is closed: queued, `new` at the open, then matched."""

from __future__ import annotations

from datetime import datetime

import pytest

from qtc.domain.enums import OrderStatus, TradeEvent
from qtc.domain.errors import OrderRejected
from qtc.domain.market import is_crypto

from .conftest import D, Kit


class OpensAt:
    """Equities trade from `open` on; crypto always (an injected session calendar)."""

    def __init__(self, open: datetime) -> None:
        self.open = open

    def is_open(self, symbol: str, minute: datetime) -> bool:
        return is_crypto(symbol) or minute >= self.open


class Windows:
    """Equities trade inside the given [open, close) windows; crypto always."""

    def __init__(self, *windows: tuple[datetime, datetime]) -> None:
        self.windows = windows

    def is_open(self, symbol: str, minute: datetime) -> bool:
        return is_crypto(symbol) or any(a <= minute < b for a, b in self.windows)


def _closed_kit(make_kit) -> Kit:
    k = make_kit(sessions=OpensAt(Kit.at(5)))
    k.engine.set_price("AAPL", D("100"))  # the last close, as the exchange seeds it
    return k


def test_an_order_before_the_open_is_accepted_and_silent(make_kit) -> None:
    k = _closed_kit(make_kit)
    order = k.order(qty="5")
    assert order.status is OrderStatus.ACCEPTED
    assert k.events == []
    assert k.engine.account().buying_power < D("10000000")


def test_at_the_first_bar_it_becomes_new_then_fills(make_kit) -> None:
    k = _closed_kit(make_kit)
    order = k.order(qty="5")
    k.feed(5, k.bar(5, "101", volume="1000"))
    assert [u.event for u in k.events] == [TradeEvent.NEW, TradeEvent.FILL]
    assert k.events[0].timestamp == Kit.at(5)
    filled = k.engine.get(order.broker_order_id)
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, D("5"))


def test_a_submit_after_the_open_releases_the_queue_first(make_kit) -> None:
    k = _closed_kit(make_kit)
    early = k.order(qty="5")
    late = k.order(qty="5", at=Kit.at(5, 30))
    news = [u.order.broker_order_id for u in k.events if u.event is TradeEvent.NEW]
    assert news == [early.broker_order_id, late.broker_order_id]


def test_ioc_and_fok_are_refused_while_closed(make_kit) -> None:
    k = _closed_kit(make_kit)
    for tif in ("ioc", "fok"):
        with pytest.raises(OrderRejected) as refused:
            k.order(tif=tif)
        assert "while the market is closed" in refused.value.reason


def test_an_order_sent_after_the_close_waits_for_the_next_session(make_kit) -> None:
    k = make_kit(sessions=Windows((Kit.at(0), Kit.at(5)), (Kit.at(10), Kit.at(20))))
    k.feed(0, k.bar(0, "100", volume="1000"))
    late = k.order(qty="5", at=Kit.at(5, 30))
    assert late.status is OrderStatus.ACCEPTED
    k.feed(4, k.bar(4, "100", volume="1000"))  # the session's last bar, fed late
    assert k.engine.end_session(Kit.at(5)) == []  # its day is the next session
    assert k.engine.get(late.broker_order_id).status is OrderStatus.ACCEPTED
    k.feed(10, k.bar(10, "102", volume="1000"))
    assert [u.event for u in k.events if u.order.broker_order_id == late.broker_order_id] == [
        TradeEvent.NEW,
        TradeEvent.FILL,
    ]
