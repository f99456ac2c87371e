"""Every new order type, class and the replace command replay from the journal into the same
exchange: the same orders (legs, marks, links), executions and account; and the simulated
broker's replace answers once journaled, with `replaced` then `new` on the stream."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.exchange.conftest import SYMBOLS, Kit

from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.enums import OrderStatus, TradeEvent
from qtc.domain.orders import ReplaceRequest, StreamConnected, TradeUpdate
from qtc.exchange.engine.journal import JournaledEngine
from qtc.exchange.engine.matching import ExchangeEngine

D = Decimal
PARAMS: dict[str, Any] = {
    "seed": 11,
    "symbols": SYMBOLS,
    "buying_power": D(10_000_000),
    "participation": D("0.1"),
    "half_spread_bps": D(2),
}


class JournalKit(Kit):
    """A Kit whose engine journals to `path`."""

    def __init__(self, path: Path) -> None:
        super().__init__(**PARAMS)
        self.engine = JournaledEngine.open(path, **PARAMS)
        self.engine.subscribe(self.events.append)


def state(engine: ExchangeEngine) -> tuple[Any, ...]:
    return (engine.list("all", limit=10_000), engine.executions, engine.account())


def test_every_new_command_replays_into_the_same_exchange(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    kit = JournalKit(journal)
    kit.feed(0, kit.bar(0, "100", volume="1000"))
    kit.order(qty="50")
    kit.order(side="sell", order_type="stop", stop="99", qty="5", tif="gtc")
    kit.order(order_type="stop_limit", stop="101", limit="100.50", tif="gtc")
    trailing = kit.order(side="sell", order_type="trailing_stop", trail_percent="5", tif="gtc")
    bracket = kit.order(
        order_type="limit",
        limit="99",
        qty="150",
        order_class="bracket",
        take_profit="103",
        stop_loss="96",
        tif="gtc",
    )
    kit.order(order_type="limit", limit="98", order_class="oto", stop_loss="95", tif="gtc")
    oco = kit.order(
        side="sell", order_type="limit", limit="104", stop_loss="97", order_class="oco", tif="gtc"
    )
    kit.order(tif="cls", qty="3")
    kit.feed(1, kit.bar(1, "100", high="101.50", low="98.60", close="99.20", volume="1000"))
    kit.engine.replace(trailing.broker_order_id, ReplaceRequest(trail=D("4")), kit.at(2, 5))
    kit.engine.replace(
        oco.legs[0].broker_order_id, ReplaceRequest(stop_price=D("96.50")), kit.at(2, 6)
    )
    kit.engine.cancel(bracket.broker_order_id, kit.at(2, 7))
    kit.feed(2, kit.bar(2, "99", high="103.50", low="98.90", close="103", volume="1000"))
    kit.engine.end_session(kit.at(3))
    kit.order(tif="opg", qty="4", at=kit.at(4))
    kit.feed(24 * 60, kit.bar(24 * 60, "102", volume="1000"))
    before = state(kit.engine)
    assert {o.status for o in before[0]} >= {
        OrderStatus.FILLED,
        OrderStatus.REPLACED,
        OrderStatus.CANCELED,
    }

    again = JournaledEngine.open(journal, **PARAMS)
    assert state(again) == before


async def test_simulated_broker_replace_is_journaled_and_streamed(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    engine = JournaledEngine.open(journal, group_commit=True, **PARAMS)
    engine.set_price("AAPL", D(100))
    clock = ManualClock(Kit.at(1))
    broker = SimulatedBroker(engine, clock)
    stream = broker.updates()
    assert isinstance(await anext(stream), StreamConnected)
    old = await broker.submit(Kit().request(order_type="limit", limit="90", tif="gtc"))
    new = await broker.replace(old.broker_order_id, ReplaceRequest(limit_price=D("91")))
    events = [await anext(stream) for _ in range(3)]
    assert [(e.event, e.order.broker_order_id) for e in events if isinstance(e, TradeUpdate)] == [
        (TradeEvent.NEW, old.broker_order_id),
        (TradeEvent.REPLACED, old.broker_order_id),
        (TradeEvent.NEW, new.broker_order_id),
    ]
    assert (await broker.get_order(new.broker_order_id)).replaces == old.broker_order_id
    replayed = JournaledEngine.open(journal, **PARAMS)
    assert replayed.get(new.broker_order_id).limit_price == D("91")
    assert clock.now() - Kit.at(1) == timedelta(0)
