"""Failures the real stack cannot be made to produce: a bug, a broker outage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from qtc.api.app import create_app
from qtc.api.keys import KeyStore
from qtc.domain.enums import OrderType, Side, TimeInForce
from qtc.domain.errors import BrokerUnavailable
from qtc.domain.orders import Order
from qtc.domain.portfolio import Portfolio
from qtc.domain.signals import ReplaceIntent
from qtc.tracking.ports import StatusFilter, TeamEvent


class BrokenTracker:
    """A TrackerView whose reads raise a plain bug and whose cancels meet a broker outage."""

    def __init__(self, order: Order) -> None:
        self.order = order

    def team_ids(self) -> list[str]:
        return ["alpha"]

    def open_orders(self, team_id: str) -> list[Order]:
        raise RuntimeError("bug with a secret inside: key=s3cret")

    def get_order(self, team_id: str, order_id: str) -> Order | None:
        return self.order if order_id == self.order.order_id else None

    def list_orders(
        self, team_id: str, status: StatusFilter, limit: int, after: str | None = None
    ) -> list[Order]:
        return []

    async def submit(self, team_id: str, intent: Any) -> Order:
        raise NotImplementedError

    async def cancel(self, team_id: str, order_id: str) -> Order:
        raise BrokerUnavailable("connection reset")

    async def replace(self, team_id: str, order_id: str, intent: ReplaceIntent) -> Order:
        raise BrokerUnavailable("connection reset")

    def portfolio(self, team_id: str) -> Portfolio:
        return Portfolio.new(Decimal(1000))

    def reserved_cash(self, team_id: str, prices: Mapping[str, Decimal]) -> Decimal:
        return Decimal(0)

    def trades(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        return []

    def order_trades(self, team_id: str, order_id: str) -> list[dict[str, Any]]:
        return []

    def errors(self, team_id: str, limit: int) -> list[dict[str, Any]]:
        return []

    def subscribe(self, team_id: str) -> asyncio.Queue[TeamEvent]:
        return asyncio.Queue()

    def unsubscribe(self, team_id: str, queue: asyncio.Queue[TeamEvent]) -> None:
        return None

    def events_since(self, team_id: str, last_id: int) -> list[TeamEvent] | None:
        return []

    def last_event_id(self, team_id: str) -> int:
        return 0


@pytest.fixture
def broken(tmp_path: Path) -> tuple[httpx.AsyncClient, dict[str, str], Order]:
    now = datetime(2026, 11, 20, 15, tzinfo=UTC)
    order = Order(
        order_id="alpha-01JZZZZZZZZZZZZZZZZZZZZZZZ",
        team_id="alpha",
        symbol="AAPL",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal(90),
        requested_price=Decimal(90),
        created_at=now,
        updated_at=now,
    )
    keys = KeyStore(tmp_path / "api_keys.json")
    headers = {"X-API-Key": keys.issue("alpha")}
    app = create_app(BrokenTracker(order), keys)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api"), headers, order


async def test_a_bug_answers_500_internal_error_and_is_logged_without_the_key(
    broken: tuple[httpx.AsyncClient, dict[str, str], Order], caplog: pytest.LogCaptureFixture
) -> None:
    client, headers, _ = broken
    caplog.set_level(logging.INFO)
    async with client:
        r = await client.get("/api/v1/team/alpha/orders/open", headers=headers)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "Traceback" not in r.text and "s3cret" not in r.text
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert errors and "GET /api/v1/team/alpha/orders/open" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert headers["X-API-Key"] not in caplog.text


async def test_a_broker_outage_on_cancel_is_503_with_retry_after(
    broken: tuple[httpx.AsyncClient, dict[str, str], Order],
) -> None:
    client, headers, order = broken
    async with client:
        r = await client.delete(f"/api/v1/team/alpha/orders/{order.order_id}", headers=headers)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert set(r.json()) == {"detail"}
