"""What every route of the local Alpaca-compatible exchange shares, and its error type."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse

from qtc.clock import Clock
from qtc.domain.orders import BrokerOrder
from qtc.exchange.engine.matching import ExchangeEngine
from qtc.exchange.engine.minute_stepper import MinuteStepper
from qtc.exchange.server.account_config import AccountConfig
from qtc.exchange.server.alpaca_json import error_json, order_json
from qtc.exchange.server.faults import Faults
from qtc.exchange.server.portfolio_history import EquityHistory
from qtc.exchange.server.request_stats import RequestStats
from qtc.exchange.server.stream_hub import StreamHub
from qtc.market.base import MarketFeed
from qtc.market.calendar import Session

# Alpaca's error codes, as alpaca-py's APIError.code shows them.
CODE_INVALID = 40010001
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000
CODE_SERVER_ERROR = 50010000


class SessionCalendar(Protocol):
    """The part of `qtc.market.calendar.MarketCalendar` that `/v2/clock` and `/v2/calendar`
    need."""

    start: date
    end: date

    def session_close(self, minute: datetime) -> datetime | None: ...

    def next_open(self, after: datetime) -> datetime: ...

    def sessions_between(self, start: date, end: date) -> list[Session]: ...


class AlpacaError(Exception):
    """An error answered with Alpaca's body `{"code": ..., "message": ...}`."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        """The HTTP answer for this error."""
        return JSONResponse(error_json(self.code, self.message), status_code=self.status)


async def read_json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object body (`{}` for no body when `empty_ok`); anything else is
    Alpaca's 400."""
    if empty_ok and not await request.body():
        return {}
    try:
        body = await request.json()
    except ValueError as e:
        raise AlpacaError(400, CODE_INVALID, "request body format is invalid") from e
    if not isinstance(body, dict):
        raise AlpacaError(400, CODE_INVALID, "request body format is invalid")
    return body


@dataclass
class ExchangeState:
    """The engine and its surroundings, built once per app and handed to every route."""

    engine: ExchangeEngine
    feed: MarketFeed
    clock: Clock
    api_key: str
    api_secret: str
    faults: Faults
    # None: the `/qtc/*` controls are open (`--open-control`)
    control_token: str | None = field(repr=False)
    calendar: SessionCalendar | None = None
    stepper: MinuteStepper | None = None
    rate_limit_per_minute: int | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: EquityHistory = field(default_factory=EquityHistory)
    hub: StreamHub = field(init=False)
    configuration: AccountConfig = field(init=False)
    # broker order id -> the status the exchange reports instead of the engine's (a test
    # control: Alpaca's rarer statuses, or one no client knows)
    status_overrides: dict[str, str] = field(default_factory=dict)

    def render(self, order: BrokerOrder, *, nested: bool = True) -> dict[str, Any]:
        """An order as the REST API answers it, with any status override applied (`nested`:
        a group's legs inside it, as every answer about one order has them)."""
        return order_json(
            order,
            self.status_overrides.get(order.broker_order_id),
            self.intent(order.broker_order_id),
            nested=nested,
            intent_of=self.intent,
        )

    def intent(self, broker_order_id: str) -> str | None:
        """The order's `position_intent` as the engine decided it (None if it never knew)."""
        try:
            return self.engine.position_intent(broker_order_id).value
        except KeyError:
            return None

    def __post_init__(self) -> None:
        self.hub = StreamHub(self.faults, self.credentials_ok)
        self.configuration = AccountConfig(self.engine)

    def credentials_ok(self, key: str, secret: str) -> bool:
        """Constant-time check of an API key id and secret."""
        key_ok = secrets.compare_digest(key.encode(), self.api_key.encode())
        secret_ok = secrets.compare_digest(secret.encode(), self.api_secret.encode())
        return key_ok and secret_ok

    def now(self) -> datetime:
        """The exchange's time (the injected clock's)."""
        return self.clock.now()

    def data_end(self) -> datetime:
        """Bars starting before this instant are complete: the start of the current minute."""
        return self.now().astimezone(UTC).replace(second=0, microsecond=0)

    def market_clock(self) -> tuple[bool, datetime, datetime]:
        """(is_open, next_open, next_close) of the equity market now; always open without
        a calendar (crypto never closes)."""
        now = self.now()
        if self.calendar is None:
            return True, now, now + timedelta(days=1)
        close = self.calendar.session_close(now)
        next_open = self.calendar.next_open(now)
        if close is not None:
            return True, next_open, close
        upcoming_close = self.calendar.session_close(next_open)
        return False, next_open, upcoming_close or next_open + timedelta(hours=6, minutes=30)


def as_json(value: Any, status: int = 200) -> JSONResponse:
    """A JSON answer."""
    return JSONResponse(value, status_code=status)
