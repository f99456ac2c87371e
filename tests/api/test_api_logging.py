"""Keys never reach a log line: not the app's access log, not uvicorn's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from qtc.api.server import RedactKeyFilter

if TYPE_CHECKING:
    from conftest import Stack

WRONG = "wrong-key-that-must-not-be-logged-either"


def _exercise(stack: Stack) -> None:
    key = stack.key["alpha"]
    with stack.client() as client:
        assert client.get("/api/v1/team/alpha/orders/open", params={"key": key}).status_code == 200
        assert client.get("/api/v1/team/alpha/portfolio", headers={"X-API-Key": key}).is_success
        assert client.get("/api/v1/team/alpha/trades", params={"key": WRONG}).status_code == 401
        assert (
            client.get("/api/v1/team/alpha/orders/nope", params={"key": key, "x": "1"}).status_code
            == 404
        )


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every server-side line (the test's own HTTP client logs its URLs, keys included)."""
    client_side = ("httpx", "httpcore")
    return [
        f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith(client_side)
    ]


def test_the_access_log_has_path_and_status_but_never_the_key(
    make_stack: Callable[..., Stack], caplog: pytest.LogCaptureFixture
) -> None:
    stack = make_stack()
    caplog.set_level(logging.DEBUG)
    _exercise(stack)
    lines = _messages(caplog)
    access = [line for line in lines if line.startswith("qtc.api.access ")]
    assert any("GET /api/v1/team/alpha/orders/open 200" in line for line in access)
    assert any("GET /api/v1/team/alpha/trades 401" in line for line in access)
    for line in lines:
        assert stack.key["alpha"] not in line and WRONG not in line


def test_uvicorns_own_access_log_redacts_the_query_key(
    make_stack: Callable[..., Stack], caplog: pytest.LogCaptureFixture
) -> None:
    stack = make_stack(access_log=True)
    caplog.set_level(logging.DEBUG)
    # another server in this process may have applied uvicorn's own logging config, which
    # stops its access logger from reaching pytest's capture: undo that for this test
    access = logging.getLogger("uvicorn.access")
    saved = access.propagate, access.disabled, access.level
    access.propagate, access.disabled = True, False
    access.setLevel(logging.INFO)
    try:
        _exercise(stack)
    finally:
        access.propagate, access.disabled = saved[:2]
        access.setLevel(saved[2])
    lines = _messages(caplog)
    uvicorn_access = [line for line in lines if line.startswith("uvicorn.access ")]
    assert any("/api/v1/team/alpha/orders/open?key=*** " in line for line in uvicorn_access)
    assert any("key=***&x=1" in line for line in uvicorn_access)
    for line in lines:
        assert stack.key["alpha"] not in line and WRONG not in line


def test_the_redaction_filter_covers_every_spelling() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/x?a=1&KEY=s3cret&api_key=t0p&apikey=z", "1.1", 200),
        None,
    )
    assert RedactKeyFilter().filter(record)
    message = record.getMessage()
    assert "s3cret" not in message and "t0p" not in message and "=z" not in message
    assert "a=1&KEY=***&api_key=***&apikey=***" in message
