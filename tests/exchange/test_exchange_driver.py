"""The ExchangeDriver feeds the engine each minute as the clock passes and closes sessions."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from qtc.clock import ManualClock
from qtc.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from qtc.domain.orders import OrderRequest
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.market.calendar import MarketCalendar
from qtc.market.simulated import SimulatedMarket

CLOSE_MINUTE = 3  # the fake session closes at the end of minute 2


class HandFeed:
    """A MarketFeed over hand-built bars."""

    def __init__(self, bars):
        self._bars = bars  # {minute datetime: {symbol: Bar}}

    async def refresh(self, minute):
        """Every bar is known already."""

    @property
    def universe(self):
        return ["AAPL", "BTC/USD"]

    def bars_at(self, minute):
        return dict(self._bars.get(minute, {}))

    def history(self, symbol, end, count):
        return []

    def last_price(self, symbol, at):
        return None


class ShortSession:
    """Equities trade minutes 0-2 after T0; crypto always."""

    def __init__(self, open_, close):
        self.open, self.close = open_, close

    def is_open(self, symbol, minute):
        return "/" in symbol or self.open <= minute < self.close

    def session_close(self, minute):
        return self.close if self.open <= minute < self.close else None


@pytest.fixture
def setup(make_kit):
    k = make_kit()
    feed = HandFeed(
        {
            k.at(m): {
                "AAPL": k.bar(m, str(100 + m), volume="1000"),
                "BTC/USD": k.bar(m, "50000", volume="1", symbol="BTC/USD"),
            }
            for m in range(6)
        }
    )
    clock = ManualClock(k.at(0))
    calendar = ShortSession(k.at(0), k.at(CLOSE_MINUTE))
    return k, ExchangeDriver(k.engine, feed, clock, calendar), clock


async def wait_until(condition, deadline_s=2.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        assert loop.time() < end, "condition not met before the deadline"
        await asyncio.sleep(0.001)


def test_step_feeds_only_open_symbols_and_expires_day_orders_at_the_close(setup):
    k, driver, _ = setup
    driver.step(k.at(0))
    day = k.order(qty="400", at=k.at(1, 5))
    gtc = k.order(qty="500", tif="gtc", at=k.at(1, 6))

    driver.step(k.at(1))
    driver.step(k.at(2))  # the last minute of the session: day orders expire at its close

    day_final = k.engine.get(day.broker_order_id)
    assert (day_final.status, day_final.filled_qty) == (OrderStatus.EXPIRED, D("300"))
    gtc_final = k.engine.get(gtc.broker_order_id)
    assert (gtc_final.status, gtc_final.filled_qty) == (OrderStatus.NEW, D("0"))
    assert day_final.updated_at == k.at(CLOSE_MINUTE)

    driver.step(k.at(3))  # market closed: the AAPL bar is not fed, BTC/USD is
    assert k.engine.get(gtc.broker_order_id).filled_qty == D("0")
    assert k.engine.last_price("AAPL") == D("102")
    assert k.engine.last_price("BTC/USD") == D("50000")


async def test_run_feeds_each_minute_once_the_clock_passes_it(setup):
    k, driver, clock = setup
    task = asyncio.create_task(driver.run())
    try:
        await wait_until(lambda: clock.sleepers == 1)
        assert driver.processed_through is None

        clock.set(k.at(1))
        await wait_until(lambda: driver.processed_through == k.at(0))
        assert k.engine.last_price("AAPL") == D("100")

        clock.set(k.at(4, 30))  # a jump: every minute in between is fed, in order
        await wait_until(lambda: driver.processed_through == k.at(3))
        assert driver.next_minute == k.at(4)
        assert k.engine.last_price("AAPL") == D("102")
    finally:
        driver.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_driver_with_the_real_calendar_and_simulated_market():
    calendar = MarketCalendar()
    market = SimulatedMarket(7, calendar, ["AAPL"])
    close = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # Monday, 16:00 New York
    clock = ManualClock(close - timedelta(minutes=3))
    engine = ExchangeEngine(seed=1, symbols=["AAPL"], participation=D("0.01"))
    driver = ExchangeDriver(engine, market, clock, calendar)
    clock.set(close - timedelta(minutes=2))
    assert driver.catch_up() == 1
    request = OrderRequest(
        client_order_id="team1-BIG",
        symbol="AAPL",
        side=Side.BUY,
        qty=D("20000"),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
    )
    engine.submit(request, clock.now())

    clock.set(close + timedelta(minutes=5))
    assert driver.catch_up() == 7

    final = engine.get_by_client_id("team1-BIG")
    assert final.status is OrderStatus.EXPIRED
    assert final.updated_at == close
    assert D(0) < final.filled_qty < D(20000)
    assert sum(e.qty for e in engine.executions) == final.filled_qty


def test_cls_fills_at_the_close_of_the_sessions_last_bar(setup):
    k, driver, _ = setup
    driver.step(k.at(0))
    cls = k.order(qty="10", tif="cls", at=k.at(1, 5))
    driver.step(k.at(1))
    assert k.engine.get(cls.broker_order_id).filled_qty == D("0")

    driver.step(k.at(2))  # the session's last bar (close 102), then its close
    final = k.engine.get(cls.broker_order_id)
    assert (final.status, final.filled_avg_price, final.updated_at) == (
        OrderStatus.FILLED,
        D("102"),
        k.at(CLOSE_MINUTE),
    )


def test_opg_fills_at_the_open_of_the_sessions_first_bar(make_kit):
    k = make_kit()
    feed = HandFeed({k.at(m): {"AAPL": k.bar(m, str(100 + m), volume="1000")} for m in range(4)})
    driver = ExchangeDriver(k.engine, feed, ManualClock(k.at(0)), ShortSession(k.at(2), k.at(4)))
    opg = k.order(qty="10", tif="opg", order_type="limit", limit="103", at=k.at(0, 30))
    driver.step(k.at(0))
    driver.step(k.at(1))  # before the open: no bar
    assert k.engine.get(opg.broker_order_id).filled_qty == D("0")

    driver.step(k.at(2))  # the first bar of the session opens at 102
    final = k.engine.get(opg.broker_order_id)
    assert (final.status, final.filled_avg_price) == (OrderStatus.FILLED, D("102"))
