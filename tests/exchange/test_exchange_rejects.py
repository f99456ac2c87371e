"""Orders the exchange refuses: a clear reason, and nothing changes."""

from decimal import Decimal as D

import pytest

from qtc.domain.errors import OrderRejected


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"symbol": "TSLA"}, "asset TSLA not found"),
        ({"qty": "0"}, "qty must be > 0"),
        ({"qty": "-5"}, "qty must be > 0"),
        ({"qty": "0.0000000001"}, "qty must have at most 9 decimal places"),
        ({"symbol": "BTC/USD", "tif": "day"}, "invalid crypto time_in_force day"),
        ({"symbol": "BTC/USD", "tif": "fok"}, "invalid crypto time_in_force fok"),
        ({"order_type": "limit"}, "limit_price is required for limit orders"),
        ({"order_type": "limit", "limit": "0"}, "limit_price must be > 0"),
        ({"symbol": "MSFT"}, "no market price for MSFT yet"),
        ({"cid": "x" * 129}, "client_order_id must be at most 128 characters"),
        (
            {"order_type": "limit", "limit": "99.995"},
            "invalid limit_price 99.995. sub-penny increment does not fulfill "
            "minimum pricing criteria",
        ),
        (
            {
                "side": "sell",
                "symbol": "BTC/USD",
                "tif": "gtc",
                "order_type": "limit",
                "limit": "1",
            },
            "insufficient balance for BTC/USD (requested 10, available 0)",
        ),
    ],
)
def test_reject_reasons(kit, kwargs, reason):
    events_before = list(kit.events)

    with pytest.raises(OrderRejected) as err:
        kit.order(**kwargs)

    assert err.value.reason == reason
    assert kit.events == events_before
    assert kit.engine.list("all") == []


def test_sub_dollar_limit_prices_may_have_four_decimals(kit):
    assert kit.order(side="sell", order_type="limit", limit="0.9999").limit_price == D("0.9999")


def test_insufficient_buying_power_counts_open_buy_reservations(make_kit):
    k = make_kit(buying_power=D("10000"))
    k.feed(0, k.bar(0, "100"))
    k.order(order_type="limit", limit="90", qty="100")  # reserves 9000

    with pytest.raises(OrderRejected) as err:
        k.order(order_type="limit", limit="90", qty="12")  # 1080 > 1000 left
    assert err.value.reason == "insufficient buying power (required 1080, available 1000)"
    assert k.engine.account().buying_power == D("1000")

    fits = k.order(order_type="limit", limit="90", qty="11")
    assert fits.qty == D("11")


def test_canceling_frees_buying_power(make_kit):
    k = make_kit(buying_power=D("10000"))
    k.feed(0, k.bar(0, "100"))
    resting = k.order(order_type="limit", limit="90", qty="100")
    k.engine.cancel(resting.broker_order_id, k.at(2))

    assert k.engine.account().buying_power == D("10000")
    assert k.order(order_type="limit", limit="90", qty="100").qty == D("100")


def test_market_buy_is_checked_at_the_quote(make_kit):
    k = make_kit(buying_power=D("1000"))
    k.feed(0, k.bar(0, "100"))
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        k.order(qty="10")  # 10 x 100.02 > 1000
    assert k.order(qty="9").filled_avg_price == D("100.02")


@pytest.mark.parametrize("ending", ["filled", "canceled", "rejected-later"])
def test_client_order_id_is_unique_forever(kit, ending):
    if ending == "filled":
        first = kit.order(cid="team1-A", qty="1")
    else:
        first = kit.order(cid="team1-A", order_type="limit", limit="90")
        kit.engine.cancel(first.broker_order_id, kit.at(2))
    if ending == "rejected-later":
        kit.engine.end_session(kit.at(390))

    with pytest.raises(OrderRejected) as err:
        kit.order(cid="team1-A", qty="1")

    assert err.value.reason == "client_order_id must be unique"
    assert [o.broker_order_id for o in kit.engine.list("all")] == [first.broker_order_id]


def test_a_rejected_client_order_id_may_be_used_again(kit):
    with pytest.raises(OrderRejected):
        kit.order(cid="team1-B", qty="0")
    assert kit.order(cid="team1-B", qty="1").client_order_id == "team1-B"


def test_crypto_sell_within_the_balance_is_accepted(make_kit):
    k = make_kit()
    k.feed(0, k.bar(0, "50000", volume="10", symbol="BTC/USD"))
    k.order(symbol="BTC/USD", qty="0.5", tif="gtc")

    sold = k.order(symbol="BTC/USD", side="sell", qty="0.5", tif="ioc")
    assert (sold.filled_qty, sold.filled_avg_price) == (D("0.5"), D("49990"))
    with pytest.raises(OrderRejected, match="insufficient balance"):
        k.order(symbol="BTC/USD", side="sell", qty="0.1", tif="gtc")
