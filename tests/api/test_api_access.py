"""Who may call what: the key matrix for every team endpoint, and the 404/409/422 answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Stack

WRONG_KEY = "not-a-key-of-anyone"

# (method, path under /api/v1/team/{team}, needs an order id)
ENDPOINTS = [
    ("GET", "/orders/open"),
    ("GET", "/orders/{oid}"),
    ("DELETE", "/orders/{oid}"),
    ("GET", "/orders"),
    ("GET", "/trades"),
    ("GET", "/portfolio"),
    ("GET", "/errors"),
    ("GET", "/orders/stream"),
]


def _request(
    stack: Stack, method: str, path: str, key: str | None, via: str
) -> tuple[int, dict[str, object] | None, str]:
    """One request with the key in the query or the header; the stream is read only to its
    first message."""
    params = {"key": key} if key is not None and via == "query" else {}
    headers = {"X-API-Key": key} if key is not None and via == "header" else {}
    with stack.client() as client, client.stream(method, path, params=params, headers=headers) as r:
        ctype = r.headers.get("content-type", "")
        if ctype.startswith("text/event-stream"):
            first = next(r.iter_text())
            return r.status_code, None, first
        r.read()
        return r.status_code, r.json(), ctype


def _path(stack: Stack, team: str, template: str, new_order: Callable[[], str]) -> str:
    oid = new_order() if "{oid}" in template else ""
    return f"/api/v1/team/{team}" + template.replace("{oid}", oid)


@pytest.mark.parametrize(("method", "template"), ENDPOINTS)
@pytest.mark.parametrize("via", ["query", "header"])
def test_every_team_endpoint_checks_the_key(
    shared_stack: Stack, method: str, template: str, via: str
) -> None:
    stack = shared_stack

    def new_order() -> str:
        return stack.place("alpha", "AAPL", "buy", "1", "90").order_id

    def path() -> str:
        return _path(stack, "alpha", template, new_order)

    status, body, _ = _request(stack, method, path(), None, via)
    assert status == 401 and body is not None and "missing" in str(body["detail"])
    assert set(body) == {"detail"}

    status, body, _ = _request(stack, method, path(), WRONG_KEY, via)
    assert (status, body) == (401, {"detail": "invalid API key"})

    status, body, _ = _request(stack, method, path(), stack.key["beta"], via)
    assert (status, body) == (403, {"detail": "this key does not belong to this team"})

    status, body, ctype = _request(stack, method, path(), stack.key["alpha"], via)
    assert status == 200, body
    if template == "/orders/stream":
        assert ctype.startswith("retry:") or ctype.startswith(":")
    else:
        assert body is not None and "detail" not in body


def test_an_order_of_another_team_answers_exactly_like_a_missing_one(shared_stack: Stack) -> None:
    stack = shared_stack
    theirs = stack.place("beta", "NVDA", "buy", "2", "400")
    headers = {"X-API-Key": stack.key["alpha"]}
    with stack.client(headers=headers) as client:
        for method in ("GET", "DELETE"):
            for oid in (theirs.order_id, theirs.broker_order_id, "alpha-" + "0" * 26):
                r = client.request(method, f"/api/v1/team/alpha/orders/{oid}")
                assert (r.status_code, r.json()) == (404, {"detail": "order not found"})
        # asking with beta's own path but alpha's key is refused before anything is looked up
        r = client.get(f"/api/v1/team/beta/orders/{theirs.order_id}")
        assert r.status_code == 403
    # and the order is untouched
    with stack.client(headers={"X-API-Key": stack.key["beta"]}) as client:
        assert client.get(f"/api/v1/team/beta/orders/{theirs.order_id}").json()["status"] == "new"


def test_an_order_is_found_by_either_id(shared_stack: Stack) -> None:
    stack = shared_stack
    order = stack.place("alpha", "NVDA", "buy", "3", "450")
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        by_ours = client.get(f"/api/v1/team/alpha/orders/{order.order_id}").json()
        by_broker = client.get(f"/api/v1/team/alpha/orders/{order.broker_order_id}").json()
    assert by_ours == by_broker
    assert by_ours["order_id"] == order.order_id
    assert by_ours["broker_order_id"] == order.broker_order_id
    assert by_ours["quantity"] == "3" and by_ours["limit_price"] == "450"


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/api/v1/team/alpha/orders?status=pending", "status"),
        ("/api/v1/team/alpha/orders?limit=0", "limit"),
        ("/api/v1/team/alpha/orders?limit=ten", "limit"),
        ("/api/v1/team/alpha/orders?limit=1000000", "limit"),
        ("/api/v1/team/alpha/orders?after=alpha-NOSUCHORDER", "after"),
        ("/api/v1/team/alpha/trades?limit=-1", "limit"),
        ("/api/v1/team/alpha/errors?limit=x", "limit"),
        ("/api/v1/team/alpha/orders/" + "x" * 200, "order_id"),
        ("/api/v1/team/not-a-team!/orders/open", "team_id"),
        ("/api/v1/team/" + "a" * 30 + "/portfolio", "team_id"),
    ],
)
def test_malformed_parameters_get_422_with_a_message(
    shared_stack: Stack, path: str, where: str
) -> None:
    with shared_stack.client(headers={"X-API-Key": shared_stack.key["alpha"]}) as client:
        r = client.get(path)
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)
    assert where in body["detail"]


def test_cancel_of_a_closed_order_is_409_with_its_status(stack: Stack) -> None:
    order = stack.place("alpha", "AAPL", "buy", "5", "99")
    stack.trade_minute("AAPL", low="98", high="101", volume="1000")
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", order.order_id).status.value == "filled",
        "the order to fill",
    )
    canceled = stack.place("alpha", "AAPL", "buy", "1", "50")
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        first = client.delete(f"/api/v1/team/alpha/orders/{canceled.order_id}")
        assert first.status_code == 200 and first.json()["success"] is True
        stack.wait_for(
            lambda: not stack.tracker.get_order("alpha", canceled.order_id).is_open,
            "the cancel to land",
        )
        for oid, status in ((order.order_id, "filled"), (canceled.order_id, "canceled")):
            r = client.delete(f"/api/v1/team/alpha/orders/{oid}")
            assert r.status_code == 409
            body = r.json()
            assert body["status"] == status and body["success"] is False
            assert status in body["detail"]


def test_rate_limit_answers_429_with_retry_after_per_key(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(rate_limit_per_minute=3)
    with stack.client() as client:
        alpha = {"X-API-Key": stack.key["alpha"]}
        codes = [
            client.get("/api/v1/team/alpha/orders/open", headers=alpha).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = client.get("/api/v1/team/alpha/orders/open", params={"key": stack.key["alpha"]})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json() == {"detail": "too many requests"}
        beta = {"X-API-Key": stack.key["beta"]}
        assert client.get("/api/v1/team/beta/orders/open", headers=beta).status_code == 200


def test_unknown_routes_and_methods_answer_json(shared_stack: Stack) -> None:
    with shared_stack.client() as client:
        missing = client.get("/api/v1/nothing")
        wrong_method = client.put("/api/v1/status")
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}
    assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"detail"}
