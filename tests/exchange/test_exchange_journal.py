"""The simulated exchange's journal: a minute is matched once whatever instant a kill comes,
restarts keep the journal's parameters, torn tails and bad lines are handled clearly."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qtc.brokers.simulated import SimulatedBroker
from qtc.clock import ManualClock
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.market import Bar
from qtc.domain.orders import OrderRequest, StreamConnected
from qtc.exchange.engine.journal import JournalCorrupt, JournaledEngine

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
D = Decimal
PARAMS: dict[str, Any] = {
    "seed": 3,
    "symbols": ["AAPL"],
    "buying_power": D(1_000_000),
    "participation": D("0.1"),
    "half_spread_bps": D(0),
}


def bar(minute: int, volume: str = "100") -> dict[str, Bar]:
    at = T0 + timedelta(minutes=minute)
    return {"AAPL": Bar("AAPL", at, D(100), D(100), D(100), D(100), D(volume))}


def buy(n: int, qty: str = "50", limit: str | None = "100") -> OrderRequest:
    return OrderRequest(
        client_order_id=f"alpha-{n}",
        symbol="AAPL",
        side=Side.BUY,
        qty=D(qty),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        limit_price=D(limit) if limit else None,
    )


def filled(engine: JournaledEngine) -> list[tuple[str, Decimal]]:
    return [(e.client_order_id, e.qty) for e in engine.executions]


def test_a_minute_matched_before_a_kill_is_not_matched_again(tmp_path: Path) -> None:
    journal = tmp_path / "exchange" / "journal.jsonl"
    first = JournaledEngine.open(journal, **PARAMS)
    first.submit(buy(1), T0)
    first.on_minute(T0 + timedelta(minutes=1), bar(1))
    matched = filled(first)
    assert matched == [("alpha-1", D(10))]  # 10% of the minute's 100 shares
    # killed here, before the run's progress moved: the restart steps minute 1 again
    again = JournaledEngine.open(journal, **PARAMS)
    assert again.last_minute == T0 + timedelta(minutes=1)
    again.on_minute(T0 + timedelta(minutes=1), bar(1))
    assert filled(again) == matched
    again.on_minute(T0 + timedelta(minutes=2), bar(2))
    assert filled(again) == [*matched, ("alpha-1", D(10))]
    assert sum(1 for line in journal.read_text().splitlines() if '"minute"' in line) == 2


def test_a_restart_keeps_the_journals_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal.jsonl"
    first = JournaledEngine.open(journal, **PARAMS)
    big = first.submit(buy(1, qty="9000", limit="100"), T0)  # needs 900,000 of buying power
    assert big.status is OrderStatus.NEW
    first.on_minute(T0 + timedelta(minutes=1), bar(1, volume="1000"))
    before = filled(first)
    # fewer teams now: this run would fund the shared account with far less
    again = JournaledEngine.open(journal, **{**PARAMS, "buying_power": D(1000)})
    assert again.params["buying_power"] == D(1_000_000)
    assert again.get_by_client_id("alpha-1").status is OrderStatus.PARTIALLY_FILLED
    assert filled(again) == before
    assert "keeping the journal's buying_power=1000000" in caplog.text


def test_a_torn_tail_survives_the_restart_after_next(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    first = JournaledEngine.open(journal, **PARAMS)
    first.submit(buy(1), T0)
    journal.write_bytes(journal.read_bytes() + b'{"op":"submit","now":"2026-11-')  # a kill
    second = JournaledEngine.open(journal, **PARAMS)
    second.submit(buy(2), T0)
    third = JournaledEngine.open(journal, **PARAMS)
    assert [o.client_order_id for o in third.list("open")] == ["alpha-1", "alpha-2"]
    assert journal.with_name("journal.jsonl.torn").read_text().startswith('{"op":"submit"')
    for line in journal.read_text().splitlines():
        json.loads(line)


def test_a_bad_middle_line_names_the_file_and_line(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    first = JournaledEngine.open(journal, **PARAMS)
    first.submit(buy(1), T0)
    first.submit(buy(2), T0)
    lines = journal.read_text().splitlines()
    lines[2] = '{"op": "submit", "now": '  # the header is line 1
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(JournalCorrupt) as caught:
        JournaledEngine.open(journal, **PARAMS)
    assert caught.value.line == 3
    assert str(caught.value).startswith(f"{journal} line 3:")


async def test_a_burst_of_submits_and_cancels_shares_one_fsync_and_is_answered_after_it(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "exchange" / "journal.jsonl"
    engine = JournaledEngine.open(journal, group_commit=True, **PARAMS)
    engine.set_price("AAPL", D(100))
    broker = SimulatedBroker(engine, ManualClock(T0))
    stream = broker.updates()
    assert isinstance(await anext(stream), StreamConnected)
    before = engine.fsyncs.count
    market = [buy(n, qty="1", limit=None) for n in range(10)]
    answers = await asyncio.gather(*(broker.submit(r) for r in market))
    assert engine.fsyncs.count - before == 1  # one sync for the burst, not ten
    assert [a.client_order_id for a in answers] == [r.client_order_id for r in market]
    events = [await anext(stream) for _ in range(10)]  # told only after the sync
    assert [(e.event, e.order.client_order_id) for e in events] == [  # type: ignore[union-attr]
        (TradeEvent.NEW, r.client_order_id) for r in market
    ]
    await broker.advance(T0 + timedelta(minutes=1), bar(1, volume="1000"))
    assert len(filled(engine)) == 10
    resting = [await broker.submit(buy(20 + n, limit="90")) for n in range(3)]
    before = engine.fsyncs.count
    await asyncio.gather(*(broker.cancel(o.broker_order_id) for o in resting))
    assert engine.fsyncs.count - before == 1
    # a restart replays every command answered: the same orders, the same fills
    again = JournaledEngine.open(journal, **PARAMS)
    assert filled(again) == filled(engine)
    assert [o.status for o in (again.get(o.broker_order_id) for o in resting)] == [
        OrderStatus.CANCELED
    ] * 3
    await broker.close()


def test_without_group_commit_every_command_is_synced_as_it_is_written(tmp_path: Path) -> None:
    engine = JournaledEngine.open(tmp_path / "journal.jsonl", **PARAMS)
    before = engine.fsyncs.count
    engine.submit(buy(1), T0)
    engine.submit(buy(2), T0)
    assert engine.fsyncs.count - before == 2
