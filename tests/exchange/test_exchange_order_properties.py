"""Property: for random bar paths and random orders of every type and class, nothing moves
without an execution, every execution is at a price its bar (or the quote) allowed, and the
exits of an oco pair or a bracket never both execute."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.exchange.conftest import Kit

from qtc.domain.enums import OrderClass, OrderStatus, OrderType, Side
from qtc.domain.errors import OrderNotCancelable, OrderRejected
from qtc.domain.orders import BrokerOrder, ReplaceRequest
from qtc.exchange.engine.pricing import quote

D = Decimal
HALF_SPREAD = D(2)
INITIAL_CASH = D(10_000_000)

cents = st.integers(min_value=9_000, max_value=11_000).map(lambda c: D(c) / 100)


@st.composite
def bars(draw: st.DrawFn) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    points = sorted(draw(st.lists(cents, min_size=4, max_size=4)))
    low, high = points[0], points[3]
    open_, close = draw(st.permutations([points[1], points[2]]))
    volume = D(draw(st.integers(min_value=0, max_value=3000)))
    return open_, high, low, close, volume


@st.composite
def orders(draw: st.DrawFn) -> dict[str, str | None]:
    side = draw(st.sampled_from(["buy", "sell"]))
    kind = draw(st.sampled_from(["market", "limit", "stop", "stop_limit", "trailing_stop"]))
    price = str(draw(cents))
    fields: dict[str, str | None] = {
        "side": side,
        "qty": str(draw(st.integers(min_value=1, max_value=300))),
        "order_type": kind,
        "tif": draw(st.sampled_from(["day", "gtc"])),
    }
    if kind in ("limit", "stop_limit"):
        fields["limit"] = price
    if kind in ("stop", "stop_limit"):
        fields["stop"] = str(draw(cents))
    if kind == "trailing_stop":
        fields["trail_price"] = str(draw(st.integers(min_value=1, max_value=300)) / 100)
    if kind in ("market", "limit") and draw(st.booleans()):
        fields["tif"] = draw(st.sampled_from(["opg", "cls", "ioc", "day"]))
    order_class = draw(st.sampled_from(["simple", "simple", "bracket", "oco", "oto"]))
    if order_class != "simple":
        fields["tif"] = "gtc"
        low, high = (
            str(draw(st.integers(9_000, 9_900)) / 100),
            str(draw(st.integers(10_100, 11_000)) / 100),
        )
        up, down = (high, low) if (side == "buy") == (order_class != "oco") else (low, high)
        fields["order_class"] = order_class
        if order_class == "oco":
            fields.update(order_type="limit", limit=up, stop_loss=down, stop=None)
        elif order_class == "bracket":
            fields.update(take_profit=up, stop_loss=down)
        elif draw(st.booleans()):
            fields["take_profit"] = up
        else:
            fields["stop_loss"] = down
        if fields["order_type"] not in ("market", "limit"):
            fields.update(order_type="market", limit=None, stop=None, trail_price=None)
    return {k: v for k, v in fields.items() if v is not None}


steps = st.lists(
    st.one_of(
        st.tuples(st.just("bar"), bars()),
        st.tuples(st.just("order"), orders()),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("replace"), st.integers(0, 50), cents),
        st.tuples(st.just("close"), st.none()),
    ),
    max_size=40,
)


def _exits(order: BrokerOrder) -> list[str]:
    if order.order_class is OrderClass.OCO:
        return [order.broker_order_id, *(leg.broker_order_id for leg in order.legs)]
    if order.order_class is OrderClass.BRACKET:
        return [leg.broker_order_id for leg in order.legs]
    return []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_no_money_moves_without_a_fill_and_every_fill_is_at_a_price_its_bar_allowed(plan):
    kit = Kit(buying_power=INITIAL_CASH, half_spread_bps=HALF_SPREAD)
    kit.feed(0, kit.bar(0, "100", volume="1000"))
    minute, placed, groups = 1, [], []
    allowed: dict[str, tuple[Decimal, Decimal]] = {}  # execution id -> price range
    for action, *args in plan:
        seen = len(kit.engine.executions)
        last = kit.engine.last_price("AAPL")
        assert last is not None
        low, high = last, last
        if action == "bar":
            o, h, lo, c, v = args[0]
            kit.feed(minute, kit.bar(minute, str(o), str(h), str(lo), str(c), str(v)))
            low, high = lo, h
            minute += 1
        elif action == "order":
            try:
                order = kit.order(at=kit.at(minute, 30), **args[0])
            except OrderRejected:
                continue
            placed.append(order.broker_order_id)
            placed.extend(leg.broker_order_id for leg in order.legs)
            groups.append(order.broker_order_id)
        elif action == "cancel" and placed:
            with contextlib.suppress(OrderNotCancelable):
                kit.engine.cancel(placed[args[0] % len(placed)], kit.at(minute, 40))
        elif action == "replace" and placed:
            change = ReplaceRequest(limit_price=args[1], stop_price=args[1])
            try:
                new = kit.engine.replace(placed[args[0] % len(placed)], change, kit.at(minute, 45))
            except (OrderNotCancelable, OrderRejected):
                continue
            placed.append(new.broker_order_id)
        elif action == "close":
            kit.engine.end_session(kit.at(minute, 50))
            minute += 24 * 60  # the next session
        band = (
            quote("AAPL", low, Side.SELL, HALF_SPREAD),
            quote("AAPL", high, Side.BUY, HALF_SPREAD),
        )
        for execution in kit.engine.executions[seen:]:
            allowed[execution.execution_id] = band
    executions = kit.engine.executions
    by_order: dict[str, Decimal] = defaultdict(D)
    cash, position = INITIAL_CASH, D(0)
    for e in executions:
        lo, hi = allowed[e.execution_id]
        assert lo <= e.price <= hi, (e, lo, hi)
        order = kit.engine.get(e.broker_order_id)
        if order.limit_price is not None:
            assert (
                e.price <= order.limit_price if e.side is Side.BUY else e.price >= order.limit_price
            )
        signed = e.qty if e.side is Side.BUY else -e.qty
        cash -= signed * e.price
        position += signed
        by_order[e.broker_order_id] += e.qty
    account = kit.engine.account()
    assert account.cash == cash
    held = account.positions.get("AAPL")
    assert (held.qty if held else D(0)) == position
    for order in kit.engine.list("all", limit=10_000):
        assert order.filled_qty == by_order.get(order.broker_order_id, D(0))
        assert order.filled_qty <= order.qty
    for parent_id in groups:
        exits = _exits(kit.engine.get(parent_id))
        assert sum(1 for i in exits if by_order.get(i)) <= 1, exits


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(orders(), max_size=4), bars()), min_size=1, max_size=8))
def test_with_volume_to_spare_every_order_a_bar_reached_has_traded(minutes):
    """The trigger index never hides an order from a bar that reached it: with unlimited
    volume, no limit, stop or market order the bar's range reached is left open after it."""
    kit = Kit(buying_power=D(10) ** 12, participation=D(1), half_spread_bps=HALF_SPREAD)
    kit.feed(0, kit.bar(0, "100", volume="1000"))
    for minute, (placed, (o, h, lo, c, _)) in enumerate(minutes, start=1):
        for fields in placed:
            if fields.get("tif") not in ("opg", "cls"):
                with contextlib.suppress(OrderRejected):
                    kit.order(at=kit.at(minute, 30), **fields)
        kit.feed(minute, kit.bar(minute, str(o), str(h), str(lo), str(c), "10000000"))
        for order in kit.engine.list("open", limit=10_000):
            if order.status is OrderStatus.HELD or order.updated_at == kit.at(minute + 1):
                continue  # a leg held, or released by this bar's fill: it works from the next
            buy = order.side is Side.BUY
            kind = order.order_type
            assert kind is not OrderType.MARKET, order
            if kind is OrderType.LIMIT:
                assert order.limit_price is not None
                assert not (lo <= order.limit_price if buy else h >= order.limit_price), order
            if kind is OrderType.STOP:
                assert order.stop_price is not None
                assert not (h >= order.stop_price if buy else lo <= order.stop_price), order
