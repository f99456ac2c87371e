"""Model-based test: random submits, fills, stream faults, polls, cancels, odd statuses, a full
disk and restarts, with the ledger and portfolios checked against a reference venue each step."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qtc.clock import ManualClock
from qtc.domain.decimals import ZERO
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce, TradeEvent
from qtc.domain.errors import InvalidSignal, OrderClosed, OrderNotCancelable
from qtc.domain.portfolio import Portfolio
from qtc.domain.signals import OrderIntent
from qtc.store.records import TradeRecord
from qtc.tracking.tracker import OrderTracker

from .conftest import T0
from .model_venue import FillableDiskStore, ModelVenue, VenueOrder

S = OrderStatus
D = Decimal
TEAMS = {"alpha": D("100000"), "beta": D("20000"), "gamma": D("5000")}
PRICES = {"AAPL": D("100"), "MSFT": D("250")}
# Alpaca's documented statuses that are rare in practice, with the event announcing each
ODD = {
    S.HELD: TradeEvent.HELD,
    S.SUSPENDED: TradeEvent.SUSPENDED,
    S.CALCULATED: TradeEvent.CALCULATED,
    S.STOPPED: TradeEvent.STOPPED,
    S.DONE_FOR_DAY: TradeEvent.DONE_FOR_DAY,
    S.PENDING_REVIEW: None,
    S.ACCEPTED_FOR_BIDDING: None,
    S.PENDING_REPLACE: TradeEvent.PENDING_REPLACE,
}
UNKNOWN_STATUS = "unheard_of_status"
# averages are reported rounded, so a fill learned by polling carries a rounded price: money
# may differ from the venue's by rounding only, far below any one execution's worth (>= 0.01)
MONEY_TOLERANCE = D("0.001")
_SECOND = timedelta(seconds=1)
picks = st.integers(min_value=0, max_value=10_000)
MAX_WORKING = 6  # few orders at a time, so that each lives through many moves
MOVES = (
    ["venue_fills"] * 6
    + ["venue_answers_cancel"] * 3
    + ["venue_odd_status"] * 2
    + ["venue_releases", "venue_status_readable_again"]
    + ["venue_unknown_status"] * 3
    + ["deliver"] * 6
    + ["deliver_out_of_order"] * 3
    + ["deliver_again"] * 2
    + ["drop"] * 2
    + ["cancel"] * 3
    + ["reconcile"] * 3
    + ["settle"] * 2
    + ["restart", "disk_fills_up", "disk_recovers"]
)


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= MONEY_TOLERANCE


class TrackerModel(RuleBasedStateMachine):
    """A real OrderTracker over real files, driven against ModelVenue."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="qtc-model-"))
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock(T0)
        self.venue = ModelVenue(self.clock.now)
        self.disk_full = False
        self.unknown_used = False
        self.delivered: list[Any] = []
        self.submitted: dict[str, str] = {}  # order_id -> team
        self.tracker = self._new_tracker()
        self.run(self.tracker.load())

    def teardown(self) -> None:
        self.loop.run_until_complete(self.tracker.close())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _new_tracker(self) -> OrderTracker:
        self.store = FillableDiskStore(self.tmp / "data")
        self.store.full = self.disk_full
        tracker = OrderTracker(
            store=self.store,
            broker=self.venue,
            clock=self.clock,
            teams=TEAMS,
            flush_delay=3600.0,  # flushed by the test, never by a timer mid-step
            logger=logging.getLogger("qtc.tracker.model"),
        )
        tracker.set_prices(PRICES)
        return tracker

    def _tick(self) -> None:
        self.clock.set(self.clock.now() + _SECOND)

    def _pick(self, orders: list[VenueOrder], i: int) -> VenueOrder | None:
        return orders[i % len(orders)] if orders else None

    def _workable(self) -> list[VenueOrder]:
        return [o for o in self.venue.orders.values() if o.is_open and o.raw_status is None]

    # commands through the tracker

    @precondition(lambda self: len(self._workable()) < MAX_WORKING)
    @rule(
        team=st.sampled_from(sorted(TEAMS)),
        symbol=st.sampled_from(sorted(PRICES)),
        side=st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
        order_type=st.sampled_from([OrderType.MARKET, OrderType.LIMIT]),
        qty=st.integers(min_value=1, max_value=30),
        offset=st.integers(min_value=-3, max_value=3),
    )
    def submit(
        self, team: str, symbol: str, side: Side, order_type: OrderType, qty: int, offset: int
    ) -> None:
        self._tick()
        price = PRICES[symbol] + offset
        intent = OrderIntent(
            symbol=symbol,
            side=side,
            quantity=D(qty),
            order_type=order_type,
            time_in_force=TimeInForce.DAY,
            limit_price=price if order_type is OrderType.LIMIT else None,
            requested_price=price,
        )
        try:
            order = self.run(self.tracker.submit(team, intent))
        except InvalidSignal:
            return  # not affordable: nothing recorded, nothing sent
        self.submitted[order.order_id] = team
        assert order.order_id in self.venue.by_client

    @rule(move=st.sampled_from(MOVES), i=picks)
    def happen(self, move: str, i: int) -> None:
        """Anything but a submit: the venue, the stream, a cancel, a poll, the disk, a restart.

        One rule picks among them by weight, so that every run sees a mix of everything (swarm
        testing would otherwise switch whole rules off for a run)."""
        getattr(self, move)(i)

    def cancel(self, i: int) -> None:
        orders = list(self.submitted)
        if not orders:
            return
        self._tick()
        order_id = orders[i % len(orders)]
        # OrderClosed: it already ended; OrderNotCancelable: it ended, the end not yet booked
        with contextlib.suppress(OrderClosed, OrderNotCancelable):
            self.run(self.tracker.cancel(self.submitted[order_id], order_id))

    def reconcile(self, i: int = 0) -> None:
        self._tick()
        self.run(self.tracker.reconcile())

    def restart(self, i: int = 0) -> None:
        self._tick()
        self.run(self.tracker.close())
        self.venue.stream.clear()  # events sent while no one listened are never replayed
        self.tracker = self._new_tracker()
        self.run(self.tracker.load())

    # the venue

    def venue_fills(self, i: int) -> None:
        vo = self._pick(self._workable(), i)
        if vo is None:
            return
        self._tick()
        part = 1 + (i // 7) % 4
        qty = min(vo.remaining, max(D(1), (vo.request.qty / part).to_integral_value()))
        price = PRICES[vo.request.symbol] + D(i % 301 - 150) / 100
        self.venue.execute(vo, qty, price)

    def venue_answers_cancel(self, i: int) -> None:
        pending = [o for o in self._workable() if o.status is S.PENDING_CANCEL]
        vo = self._pick(pending, i)
        if vo is None:
            return
        self._tick()
        if (i // 3) % 2:
            self.venue.reject_cancel(vo)
        else:
            self.venue.confirm_cancel(vo)

    def venue_odd_status(self, i: int) -> None:
        vo = self._pick([o for o in self._workable() if o.status is not S.PENDING_CANCEL], i)
        if vo is None:
            return
        self._tick()
        status = sorted(ODD)[(i // 5) % len(ODD)]
        self.venue.set_status(vo, status, ODD[status])

    def venue_releases(self, i: int) -> None:
        odd = [o for o in self._workable() if o.status in ODD]
        vo = self._pick(odd, i)
        if vo is None:
            return
        self._tick()
        back = S.PARTIALLY_FILLED if vo.filled_qty else S.NEW
        self.venue.set_status(vo, back, None)  # learned by polling only

    def venue_unknown_status(self, i: int) -> None:
        if self.unknown_used:
            return
        vo = self._pick([o for o in self._workable() if o.status is not S.PENDING_CANCEL], i)
        if vo is None:
            return
        self._tick()
        self.unknown_used = True
        vo.raw_status = UNKNOWN_STATUS

    def venue_status_readable_again(self, i: int) -> None:
        for vo in self.venue.orders.values():
            if vo.raw_status is not None:
                self._tick()
                vo.raw_status = None

    # the stream

    def deliver(self, i: int) -> None:
        """The next event, as the stream sends it."""
        del i
        self._deliver(0)

    def deliver_out_of_order(self, i: int) -> None:
        """An event further down the queue overtakes (the ones it passes are delayed)."""
        self._deliver(1 + i % 4)

    def _deliver(self, i: int) -> None:
        if not self.venue.stream:
            return
        self._tick()
        event = self.venue.stream.pop(min(i, len(self.venue.stream) - 1))
        self.delivered.append(event)
        self.run(self.tracker.apply_update(event))

    def deliver_again(self, i: int) -> None:
        if not self.delivered:
            return
        self._tick()
        self.run(self.tracker.apply_update(self.delivered[i % len(self.delivered)]))

    def drop(self, i: int) -> None:
        if self.venue.stream:
            self.venue.stream.pop(i % len(self.venue.stream))

    # the disk

    def disk_fills_up(self, i: int = 0) -> None:
        self.disk_full = self.store.full = True

    def disk_recovers(self, i: int = 0) -> None:
        self.disk_full = self.store.full = False

    def settle(self, i: int = 0) -> None:
        """Disk healthy, stream drained, one reconcile: the tracker then agrees with the venue."""
        self.disk_recovers()
        self._tick()
        while self.venue.stream:
            event = self.venue.stream.pop(0)
            self.delivered.append(event)
            self.run(self.tracker.apply_update(event))
        self.run(self.tracker.reconcile())
        self._check_settled()

    # what must hold

    def _ledger(self, team: str) -> list[TradeRecord]:
        path = self.tmp / "data" / "team" / team / "trades.jsonl"
        if not path.exists():
            return []
        return [TradeRecord.from_json(json.loads(x)) for x in path.read_text().splitlines()]

    def _venue_order(self, order_id: str) -> VenueOrder:
        return self.venue.orders[self.venue.by_client[order_id]]

    @invariant()
    def ledger_never_exceeds_the_venue(self) -> None:
        for team in TEAMS:
            held: dict[str, list[TradeRecord]] = {}
            for line in self._ledger(team):
                held.setdefault(line.order_id, []).append(line)
            for order_id, lines in held.items():
                assert self.submitted.get(order_id) == team, f"{order_id} booked to {team}"
                vo = self._venue_order(order_id)
                ids = [x.execution_id for x in lines]
                assert len(ids) == len(set(ids)), f"{order_id}: an execution booked twice: {ids}"
                cums = [x.filled_qty for x in lines]
                assert cums == sorted(set(cums)), f"{order_id}: cumulative qty repeats: {cums}"
                qty = sum((x.quantity for x in lines), ZERO)
                notional = sum((x.quantity * x.execution_price for x in lines), ZERO)
                assert qty == cums[-1], f"{order_id}: lines sum {qty}, last cumulative {cums[-1]}"
                assert qty <= vo.filled_qty, f"{order_id}: ledger {qty} > venue {vo.filled_qty}"
                assert notional <= vo.notional + MONEY_TOLERANCE, (
                    f"{order_id}: ledger notional {notional} > venue {vo.notional}"
                )

    @invariant()
    def portfolio_is_the_ledger_replayed(self) -> None:
        for team, cash in TEAMS.items():
            replayed = Portfolio.replay(cash, (r.to_fill() for r in self._ledger(team)))
            live = self.tracker.portfolio(team)
            assert live.cash == replayed.cash, (team, live.cash, replayed.cash)
            assert _positions(live) == _positions(replayed), team

    @invariant()
    def no_order_lost_and_venue_open_is_tracker_open(self) -> None:
        for order_id, team in self.submitted.items():
            order = self.tracker.get_order(team, order_id)
            assert order is not None, f"{order_id} lost from the tracker's view"
            vo = self._venue_order(order_id)
            if vo.is_open:
                assert order.is_open, (
                    f"{order_id} is {vo.raw_status or vo.status.value} at the venue but "
                    f"{order.status.value} in the tracker"
                )

    @invariant()
    def pending_file_holds_the_open_orders(self) -> None:
        self.tracker.flush()
        for team in TEAMS:
            path = self.tmp / "data" / "team" / team / "pending_orders.jsonl"
            on_disk = (
                sorted(json.loads(x)["order_id"] for x in path.read_text().splitlines())
                if path.exists()
                else []
            )
            held = sorted(o.order_id for o in self.tracker.open_orders(team))
            assert on_disk == held, (team, on_disk, held)

    def _check_settled(self) -> None:
        expected = {t: Portfolio.new(c) for t, c in TEAMS.items()}
        unreadable: set[str] = set()
        for order_id, team in self.submitted.items():
            vo = self._venue_order(order_id)
            for qty, price in vo.executions:
                expected[team].apply(vo.request.symbol, vo.request.side, qty, price)
            if vo.raw_status is not None:
                unreadable.add(team)
                order = self.tracker.get_order(team, order_id)
                assert order is not None and order.is_open
                assert order.broker_status == UNKNOWN_STATUS, order
                told = [e for e in self.tracker.errors(team, 1000) if order_id in e["message"]]
                assert any("quarantined" in e["message"] for e in told), told
                continue  # an unreadable order's fills cannot be learned until it is readable
            lines = [r for r in self._ledger(team) if r.order_id == order_id]
            qty = sum((x.quantity for x in lines), ZERO)
            notional = sum((x.quantity * x.execution_price for x in lines), ZERO)
            assert qty == vo.filled_qty, f"{order_id}: ledger {qty}, venue {vo.filled_qty}"
            assert _close(notional, vo.notional), (order_id, notional, vo.notional)
            order = self.tracker.get_order(team, order_id)
            assert order is not None
            assert order.status is vo.status, (
                f"{order_id}: {order.status.value} in the tracker, {vo.status.value} at venue"
            )
            assert order.filled_qty == vo.filled_qty, (order_id, order.filled_qty)
            assert order.broker_status is None, order
        for team in TEAMS:
            if team in unreadable:
                continue
            live = self.tracker.portfolio(team)
            assert _close(live.cash, expected[team].cash), (team, live.cash, expected[team].cash)
            assert _quantities(live) == _quantities(expected[team]), team
        assert self.tracker.degraded is None, self.tracker.degraded


def _positions(p: Portfolio) -> dict[str, tuple[Decimal, Decimal]]:
    return {s: (pos.quantity, pos.cost) for s, pos in p.positions.items()}


def _quantities(p: Portfolio) -> dict[str, Decimal]:
    return {s: pos.quantity for s, pos in p.positions.items()}


TrackerModel.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestTrackerModel = TrackerModel.TestCase
