"""Out-of-range times and numbers in a query are a 422 naming the parameter, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from qtc.exchange.server.local_exchange import ExchangeConfig, build_local_exchange
from qtc.market.calendar import MarketCalendar

from .conftest import KEY, SECRET, START, Harness

ORDERS = "/v2/orders"
ACTIVITIES = "/v2/account/activities/FILL"
STOCK_BARS = "/v2/stocks/bars"
CRYPTO_BARS = "/v1beta3/crypto/us/bars"
TIME_PARAMS = [
    (ORDERS, "after"),
    (ORDERS, "until"),
    (ACTIVITIES, "after"),
    (ACTIVITIES, "until"),
    (ACTIVITIES, "date"),
    (STOCK_BARS, "start"),
    (STOCK_BARS, "end"),
    (CRYPTO_BARS, "start"),
    (CRYPTO_BARS, "end"),
]
OUT_OF_RANGE = [
    "0001-01-01T00:00:00+01:00",  # an offset that leaves datetime's range
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1899-12-31",
    "3000-01-01T00:00:00Z",
]
NOT_A_TIME = ["99999-01-01T00:00:00Z", "-1e999", "0000-01-01", "1e999", "9" * 5000, "2025-13-01"]
SYMBOLS_OF = {STOCK_BARS: "AAPL", CRYPTO_BARS: "BTC/USD"}


def _get(harness: Harness, path: str, **params: str) -> requests.Response:
    if path in SYMBOLS_OF:
        params.setdefault("symbols", SYMBOLS_OF[path])
    return requests.get(
        harness.base_url + path, params=params, headers=harness.auth_headers(), timeout=10
    )


@pytest.mark.parametrize(("path", "name"), TIME_PARAMS)
def test_a_time_out_of_range_is_a_422_naming_it(harness: Harness, path: str, name: str) -> None:
    for value in OUT_OF_RANGE:
        reply = _get(harness, path, **{name: value})
        assert reply.status_code == 422, (value, reply.text)
        assert reply.json()["code"] == 40010001
        message = reply.json()["message"]
        assert message == f"{name} {value!r} is out of range (1900 to 2999)", message


@pytest.mark.parametrize(("path", "name"), TIME_PARAMS)
def test_text_that_is_no_time_is_a_422_naming_it(harness: Harness, path: str, name: str) -> None:
    for value in NOT_A_TIME:
        reply = _get(harness, path, **{name: value})
        assert reply.status_code == 422, (value, reply.text)
        assert reply.json()["message"].startswith(f"invalid {name} "), reply.text
        assert len(reply.json()["message"]) < 120  # a 5,000-digit value is not echoed


@pytest.mark.parametrize(
    ("path", "name"),
    [(ORDERS, "limit"), (ACTIVITIES, "page_size"), (STOCK_BARS, "limit"), (CRYPTO_BARS, "limit")],
)
def test_huge_integers_are_a_422(harness: Harness, path: str, name: str) -> None:
    for value in ("9" * 5000, "-" + "9" * 5000, "1e999", "12.5"):
        reply = _get(harness, path, **{name: value})
        assert reply.status_code == 422, (value, reply.text)
        assert f"invalid {name}" in reply.json()["message"]
    if path == ORDERS:
        reply = _get(harness, path, limit=str(10**100))
        assert reply.status_code == 422
        assert reply.json()["message"] == "limit must be between 1 and 500"


def test_in_range_extremes_still_answer(harness: Harness) -> None:
    assert _get(harness, ORDERS, status="all", after="1900-01-01T00:00:00Z").json() == []
    bars = _get(harness, STOCK_BARS, start="1900-01-01T00:00:00Z", end="1900-01-01T05:00:00Z")
    assert bars.status_code == 200 and bars.json()["bars"] == {}
    latest = _get(harness, CRYPTO_BARS, start="2025-03-04T14:50:00Z", end="2999-12-31T00:00:00Z")
    assert [b["t"] for b in latest.json()["bars"]["BTC/USD"]][-1] == "2025-03-04T14:59:00Z"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    calendar = MarketCalendar(start=date(2025, 1, 1), end=date(2025, 12, 31))
    config = ExchangeConfig(clock="manual", start=START, api_key=KEY, api_secret=SECRET)
    exchange = build_local_exchange(config, calendar=calendar)
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    with TestClient(exchange.app, headers=headers, raise_server_exceptions=False) as client:
        yield client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(TIME_PARAMS),
    value=st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.text(alphabet="0123456789-+:TZ.e ", max_size=40),
        st.text(max_size=20),
    ),
)
def test_any_time_value_is_answered_200_or_422(
    client: TestClient, where: tuple[str, str], value: str
) -> None:
    path, name = where
    params = {name: value}
    if path in SYMBOLS_OF:
        params["symbols"] = SYMBOLS_OF[path]
    reply = client.get(path, params=params)
    assert reply.status_code in (200, 422), (path, name, value, reply.text)
