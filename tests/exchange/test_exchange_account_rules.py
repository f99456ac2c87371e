"""The engine's account rules: shorting setting, buying power without short proceeds, intent."""

from __future__ import annotations

import pytest

from qtc.domain.enums import OrderStatus
from qtc.domain.errors import OrderRejected
from qtc.exchange.engine.account import PositionIntent

from .conftest import D, Kit


def _kit(make_kit, cash: str = "10000") -> Kit:
    k = make_kit(buying_power=D(cash))
    k.feed(0, k.bar(0, "100", volume="10000"))  # 1,000 shares of budget
    return k


def test_with_shorting_off_a_sell_past_the_position_is_refused(make_kit) -> None:
    k = _kit(make_kit)
    k.engine.set_shorting(False)
    with pytest.raises(OrderRejected) as refused:
        k.order(side="sell", qty="5")
    assert refused.value.reason == (
        "insufficient qty available for order (requested: 5, available: 0)"
    )
    assert k.engine.account().positions == {}
    assert k.engine.account().shorting_enabled is False


def test_a_short_holds_its_value_twice_out_of_buying_power(make_kit) -> None:
    k = _kit(make_kit)
    short = k.order(side="sell", qty="20")
    assert short.status is OrderStatus.FILLED
    assert k.engine.position_intent(short.broker_order_id) is PositionIntent.SELL_TO_OPEN
    account = k.engine.account()
    price = short.filled_avg_price
    assert price is not None
    assert account.cash == D("10000") + 20 * price
    assert account.short_market_value == -20 * D("100")
    assert account.buying_power == account.cash - 2 * 20 * D("100")
    assert account.equity == account.cash - 20 * D("100")


def test_shorts_cannot_be_stacked_past_the_margin(make_kit) -> None:
    k = _kit(make_kit)
    k.order(side="sell", qty="60")  # buying power: 10,000 - 6,000 of margin = 4,000
    with pytest.raises(OrderRejected) as refused:
        k.order(side="sell", qty="45")
    assert refused.value.reason.startswith("insufficient buying power")


def test_covering_needs_no_buying_power_and_frees_it(make_kit) -> None:
    k = _kit(make_kit)
    k.order(side="sell", qty="95")
    before = k.engine.account().buying_power
    assert before < 600  # the short's margin takes the rest
    cover = k.order(side="buy", qty="95")
    assert cover.status is OrderStatus.FILLED
    assert k.engine.position_intent(cover.broker_order_id) is PositionIntent.BUY_TO_CLOSE
    assert k.engine.account().buying_power > D("9900")


def test_a_resting_short_sell_reserves_only_its_short_part(make_kit) -> None:
    k = _kit(make_kit)
    k.order(side="buy", qty="10")
    before = k.engine.account().buying_power
    k.order(side="sell", qty="30", order_type="limit", limit="150", tif="gtc")
    # 10 close the long (nothing reserved), 20 open a short at 150
    assert k.engine.account().buying_power == before - 20 * D("150")
