"""Same seed and same inputs give the same ids and fills; the account adds up to the fills."""

import contextlib
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtc.domain.enums import OrderStatus, Side
from qtc.domain.errors import OrderNotCancelable, OrderRejected


def scenario(make_kit, seed):
    k = make_kit(seed=seed)
    k.feed(0, k.bar(0, "100", volume="500"))
    k.order(qty="80")
    k.order(side="sell", order_type="limit", limit="101", qty="40", tif="gtc")
    k.order(order_type="limit", limit="99.5", qty="30", tif="ioc")
    k.feed(1, k.bar(1, "100.40", high="101.30", low="99.80", close="101", volume="700"))
    k.engine.end_session(k.at(390))
    return k


def test_same_seed_same_ids_and_fills(make_kit):
    a = scenario(make_kit, seed=42)
    b = scenario(make_kit, seed=42)

    assert a.engine.executions == b.engine.executions
    assert a.engine.list("all") == b.engine.list("all")
    assert a.events == b.events
    assert len(a.engine.executions) == 3


def test_another_seed_changes_ids_but_not_fills(make_kit):
    a = scenario(make_kit, seed=1)
    b = scenario(make_kit, seed=2)

    def fills(k):
        return [(e.client_order_id, e.qty, e.price) for e in k.engine.executions]

    assert fills(a) == fills(b)
    assert {e.execution_id for e in a.engine.executions}.isdisjoint(
        {e.execution_id for e in b.engine.executions}
    )
    assert a.engine.list("all")[0].broker_order_id != b.engine.list("all")[0].broker_order_id


def test_ids_are_uuid4_shaped(make_kit):
    k = scenario(make_kit, seed=3)
    ids = [o.broker_order_id for o in k.engine.list("all")]
    ids += [e.execution_id for e in k.engine.executions]
    for value in ids:
        parts = value.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        assert parts[2][0] == "4"
    assert len(set(ids)) == len(ids)


_action = st.one_of(
    st.tuples(
        st.just("order"),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 300),
        st.sampled_from(["market", "limit"]),
        st.sampled_from(["day", "gtc", "ioc", "fok"]),
        st.integers(-300, 300),
    ),
    st.tuples(st.just("bar"), st.integers(-300, 300), st.integers(0, 3000)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("close")),
)


# make_kit is a stateless factory: each example builds its own engine
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_action, max_size=30))
def test_every_fill_is_accounted_for_exactly_once(make_kit, actions):
    k = make_kit(buying_power=D("100000"))
    k.feed(0, k.bar(0, "100", volume="1000"))
    minute = 1
    for action in actions:
        at = k.at(minute, 30)
        if action[0] == "order":
            _, side, qty, kind, tif, offset = action
            limit = str(D(10000 + offset) / 100) if kind == "limit" else None
            with contextlib.suppress(OrderRejected):
                k.order(side=side, qty=str(qty), order_type=kind, tif=tif, limit=limit, at=at)
        elif action[0] == "bar":
            price = str(D(10000 + action[1]) / 100)
            k.feed(minute, k.bar(minute, price, volume=str(action[2])))
            minute += 1
        elif action[0] == "cancel":
            orders = k.engine.list("all")
            if orders:
                with contextlib.suppress(OrderNotCancelable):
                    k.engine.cancel(orders[action[1] % len(orders)].broker_order_id, at)
        else:
            k.engine.end_session(at)

    executions = k.engine.executions
    cash = D("100000")
    for order in k.engine.list("all"):
        mine = [e for e in executions if e.broker_order_id == order.broker_order_id]
        assert sum((e.qty for e in mine), D(0)) == order.filled_qty <= order.qty
        if mine:
            notional = sum(e.qty * e.price for e in mine)
            assert order.filled_avg_price == (notional / order.filled_qty).quantize(D("1e-9"))
        assert (order.status is OrderStatus.FILLED) == (order.filled_qty == order.qty)
        fill_events = [
            u for u in k.events if u.order.broker_order_id == order.broker_order_id and u.qty
        ]
        assert [(u.execution_id, u.qty, u.price) for u in fill_events] == [
            (e.execution_id, e.qty, e.price) for e in mine
        ]
    for e in executions:
        cash -= e.qty * e.price if e.side is Side.BUY else -e.qty * e.price
    assert k.engine.account().cash == cash
    position = sum((e.qty if e.side is Side.BUY else -e.qty for e in executions), D(0))
    held = k.engine.position("AAPL")
    assert (held.qty if held else D(0)) == position
