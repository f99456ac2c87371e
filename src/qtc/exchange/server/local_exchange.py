"""Wiring of a complete local exchange: simulated market, engine, clock, driver and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from fastapi import FastAPI

from qtc.clock import AcceleratedClock, Clock, ManualClock, RealClock
from qtc.domain.times import MINUTE
from qtc.exchange.engine.driver import ExchangeDriver
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.engine.minute_stepper import MinuteStepper
from qtc.exchange.server.alpaca_api import create_exchange_app
from qtc.exchange.server.control_token import control_headers, new_control_token
from qtc.exchange.server.faults import Faults
from qtc.exchange.server.portfolio_history import EquityHistory
from qtc.market.calendar import MarketCalendar
from qtc.market.simulated import SimulatedMarket

ClockMode = Literal["manual", "accelerated", "real"]
DEFAULT_KEY = "qtc-local-key"
DEFAULT_SECRET = "qtc-local-secret"
# The market calendar is built for this window around the start (history and sessions ahead).
_CALENDAR_BACK = timedelta(days=45)
_CALENDAR_AHEAD = timedelta(days=400)


@dataclass(frozen=True)
class ExchangeConfig:
    """Everything `qtc exchange` can be told; the defaults suit offline practice. The `/qtc/*`
    controls need `control_token` (a fresh random one unless given; None opens them)."""

    seed: int = 1
    clock: ClockMode = "accelerated"
    ms_per_minute: float = 1000.0
    start: datetime | None = None
    symbols: list[str] | None = None
    api_key: str = DEFAULT_KEY
    api_secret: str = DEFAULT_SECRET
    buying_power: Decimal = Decimal("100000")
    rate_limit_per_minute: int | None = None
    control_token: str | None = field(default_factory=new_control_token, repr=False)


@dataclass
class LocalExchange:
    """A built exchange: the app to serve and the parts tests may look at."""

    app: FastAPI
    engine: ExchangeEngine
    feed: SimulatedMarket
    clock: Clock
    calendar: MarketCalendar
    driver: ExchangeDriver
    faults: Faults = field(default_factory=Faults)
    stepper: MinuteStepper | None = None
    # what `/qtc/*` requests send in the X-QTC-Control-Token header (None: nothing)
    control_token: str | None = field(default=None, repr=False)

    @property
    def control_headers(self) -> dict[str, str]:
        """The header every `/qtc/*` request needs (none when the controls are open)."""
        return control_headers(self.control_token)


def build_local_exchange(
    config: ExchangeConfig,
    faults: Faults | None = None,
    calendar: MarketCalendar | None = None,
) -> LocalExchange:
    """Build the exchange `config` describes (a calendar may be passed in: it is slow to build).
    The minute before `start` is fed at once so that market orders have a price from the first
    request; later minutes follow the clock."""
    start = (config.start or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    if calendar is None:
        calendar = MarketCalendar(
            start=(start - _CALENDAR_BACK).date(), end=(start + _CALENDAR_AHEAD).date()
        )
    feed = SimulatedMarket(config.seed, calendar, config.symbols)
    engine = ExchangeEngine(
        seed=config.seed,
        symbols=feed.universe,
        buying_power=config.buying_power,
        sessions=calendar,
    )
    clock: Clock
    manual: ManualClock | None = None
    if config.clock == "manual":
        clock = manual = ManualClock(start)
    elif config.clock == "accelerated":
        clock = AcceleratedClock(start, config.ms_per_minute)
    else:
        clock = RealClock()
    driver = ExchangeDriver(engine, feed, clock, calendar, start=start - timedelta(minutes=1))
    history = EquityHistory()
    driver.observers.append(lambda minute: history.record(minute + MINUTE, engine.account().equity))
    driver.catch_up()
    driver.seed_prices(start)
    stepper = MinuteStepper(driver, manual) if manual is not None else None
    faults = faults or Faults()
    app = create_exchange_app(
        engine,
        feed=feed,
        clock=clock,
        api_key=config.api_key,
        api_secret=config.api_secret,
        faults=faults,
        control_token=config.control_token,
        calendar=calendar,
        stepper=stepper,
        driver=None if manual is not None else driver,
        rate_limit_per_minute=config.rate_limit_per_minute,
        history=history,
    )
    return LocalExchange(
        app, engine, feed, clock, calendar, driver, faults, stepper, config.control_token
    )
