"""REST faults, request statistics and the admin endpoints that switch them."""

from __future__ import annotations

import time

import pytest
import requests
from alpaca.common.exceptions import APIError

from qtc.exchange.server.local_exchange import ExchangeConfig, build_local_exchange
from qtc.exchange.server.request_stats import RequestStats
from qtc.exchange.server.thread import ServerThread
from qtc.market.calendar import MarketCalendar

from .conftest import KEY, SECRET, START, Harness


def _get_account(harness: Harness) -> requests.Response:
    return requests.get(
        f"{harness.base_url}/v2/account", headers=harness.auth_headers(), timeout=10
    )


def test_a_burst_of_429_then_normal_answers(harness: Harness) -> None:
    assert harness.faults(http_429=2).json()["http_429"] == 2
    first, second, third = (_get_account(harness) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.json()["code"] == 42910000
    assert first.headers["Retry-After"] == "1"
    assert harness.control("GET", "/qtc/faults").json()["http_429"] == 0


def test_5xx_answers_reach_alpaca_py_as_api_errors(harness: Harness) -> None:
    harness.faults(http_5xx=1, status_5xx=503)
    with pytest.raises(APIError) as failed:
        harness.trading.get_account()
    assert failed.value.status_code == 503
    assert failed.value.code == 50010000
    assert harness.trading.get_account().status == "ACTIVE"


def test_added_latency_delays_every_answer(harness: Harness) -> None:
    harness.faults(latency_ms=300)
    started = time.monotonic()
    assert _get_account(harness).status_code == 200
    assert time.monotonic() - started >= 0.3
    harness.faults(latency_ms=0)


def test_bad_fault_settings_change_nothing(harness: Harness) -> None:
    for body in ({"http_429": -1}, {"http_5xx": 2, "bogus": 1}, {"status_5xx": 404}):
        reply = harness.faults(**body)
        assert reply.status_code == 422, body
    snapshot = harness.control("GET", "/qtc/faults").json()
    assert snapshot["http_5xx"] == 0 and snapshot["http_429"] == 0
    reset = harness.control("DELETE", "/qtc/faults").json()
    assert reset["fill_before_reply"] is False


def test_stats_count_requests_per_endpoint_and_per_minute(harness: Harness) -> None:
    harness.control("DELETE", "/qtc/stats")
    harness.trading.get_account()
    harness.trading.get_clock()
    orders = harness.trading.get_orders()
    assert orders == []
    harness.faults(http_429=1)
    _get_account(harness)  # answered 429, but the account still made the request
    stats = harness.stats()
    assert stats["requests_total"] == 4
    assert stats["max_requests_per_minute"] == 4
    assert stats["per_endpoint"] == {"GET /v2/account": 2, "GET /v2/clock": 1, "GET /v2/orders": 1}


def test_request_window_is_sixty_seconds() -> None:
    now = [0.0]
    stats = RequestStats(now=lambda: now[0])
    for at in (0.0, 10.0, 59.0, 60.0, 75.0, 200.0):
        now[0] = at
        stats.record("k", "GET /v2/orders")
    # 0, 10, 59 share a window; at 60 the first has left it, at 75 the second
    assert stats.snapshot()["max_requests_per_minute"] == 3
    assert stats.in_last_minute("k") == 1


def test_rate_limit_answers_429_past_the_limit(calendar: MarketCalendar) -> None:
    config = ExchangeConfig(
        clock="manual", start=START, api_key=KEY, api_secret=SECRET, rate_limit_per_minute=3
    )
    exchange = build_local_exchange(config, calendar=calendar)
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    with ServerThread(exchange.app) as server:
        codes = [
            requests.get(f"{server.base_url}/v2/clock", headers=headers, timeout=10).status_code
            for _ in range(5)
        ]
    assert codes == [200, 200, 200, 429, 429]
