"""Control characters from a request reach a log line as visible escapes, never as a new line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from tests.support.waiting import wait_until

from qtc.console import LOG_FORMAT
from qtc.log_text import escaped

if TYPE_CHECKING:
    from conftest import Stack

FORGED = "x%0A2026-01-01 00:00:00,000 [INFO] qtc.api.access: GET /forged 200 0.1ms%1B[2K"


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """What `qtc run`'s access-log file would receive: the real logger, formatter and level."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("qtc.api.access")
    saved = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield sink
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


def test_an_order_id_with_a_newline_and_escape_is_one_access_log_line(
    stack: Stack, access_log: io.StringIO
) -> None:
    headers = {"X-API-Key": stack.key["alpha"]}
    with stack.client(headers=headers) as client:
        reply = client.get(f"/api/v1/team/alpha/orders/{FORGED}")
        separator = client.delete("/api/v1/team/alpha/orders/a%E2%80%A8b%C2%85c%E2%80%AEd")
    assert reply.status_code == 404 and separator.status_code == 404
    # the line is written once the answer has gone out: under load, a moment after it arrives
    wait_until(lambda: access_log.getvalue().count(" 404 ") >= 2, 5, "both access-log lines")
    text = access_log.getvalue()
    lines = text.splitlines()  # splits at \n, \r, \x1c-\x1e, \x85, U+2028 and U+2029 too
    assert len(lines) == 2, text
    assert (
        " [INFO] qtc.api.access: GET /api/v1/team/alpha/orders/x\\n2026-01-01 00:00:00,000 "
        "[INFO] qtc.api.access: GET /forged 200 0.1ms\\x1b[2K 404 "
    ) in lines[0], lines[0]
    assert " DELETE /api/v1/team/alpha/orders/a\\u2028b\\x85c\\u202ed 404 " in lines[1]
    assert "\x1b" not in text and "\u202e" not in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain /path-1.2_ok", "plain /path-1.2_ok"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[31mred\x00\x7f", "\\x1b[31mred\\x00\\x7f"),
        ("c1\x85\x9b", "c1\\x85\\x9b"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("bidi\u202eevil\u200b", "bidi\\u202eevil\\u200b"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("back\\nslash", "back\\\\nslash"),  # a typed `\n` cannot pass for an escaped one
        ("é ü 日本 €", "é ü 日本 €"),
    ],
)
def test_escaped_shows_every_hidden_character(raw: str, shown: str) -> None:
    assert escaped(raw) == shown
    assert len(escaped(raw).splitlines()) <= 1
