"""Every answer of the team API has exactly the shape its documented pydantic model declares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from qtc.api.routes import account, orders, public

if TYPE_CHECKING:
    from conftest import Stack


def _documented_routes(stack: Stack) -> list[APIRoute]:
    """The routes the live app serves (its three routers) that declare a response model."""
    return [
        route
        for router in (orders.router, account.router, public.router)
        for route in router.routes
        if isinstance(route, APIRoute) and isinstance(route.response_model, type)
    ]


def _concrete(path: str, order_id: str) -> str:
    return path.replace("{team_id}", "alpha").replace("{order_id}", order_id)


def test_every_documented_answer_validates_against_its_model(stack: Stack) -> None:
    resting = stack.place("alpha", "AAPL", "buy", "300", "99.5")
    stack.place("alpha", "NVDA", "buy", "1", "450", tif="day")
    stack.trade_minute("AAPL", low="99", high="101", volume="1000")
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", resting.order_id).filled_qty > 0, "a fill"
    )
    stack.tracker.record_error("alpha", "signal", "strategy raised ValueError", {"x": 1})
    checked: dict[str, Any] = {}
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        for route in _documented_routes(stack):
            model: type[BaseModel] = route.response_model
            for method in (route.methods or set()) - {"HEAD"}:
                if method in ("DELETE", "PATCH"):
                    continue  # the replace and cancel, below, once everything has been read
                answer = client.request(method, _concrete(route.path, resting.order_id))
                assert answer.status_code == 200, (route.path, answer.text)
                model.model_validate(answer.json())
                checked[f"{method} {route.path}"] = model.__name__
        replace = client.patch(
            f"/api/v1/team/alpha/orders/{resting.order_id}", json={"price": "99.4"}
        )
        assert replace.status_code == 200, replace.text
        _model_of(stack, "PATCH").model_validate(replace.json())
        successor = replace.json()["order_id"]
        cancel = client.delete(f"/api/v1/team/alpha/orders/{successor}")
        assert cancel.status_code == 200, cancel.text
        _model_of(stack, "DELETE").model_validate(cancel.json())
    # the routes a team relies on are all among those checked
    assert {
        "GET /api/v1/team/{team_id}/orders/open",
        "GET /api/v1/team/{team_id}/orders",
        "GET /api/v1/team/{team_id}/orders/{order_id}",
        "GET /api/v1/team/{team_id}/trades",
        "GET /api/v1/team/{team_id}/portfolio",
        "GET /api/v1/team/{team_id}/errors",
        "GET /api/v1/status",
        "GET /leaderboard",
    } <= set(checked)


def _model_of(stack: Stack, method: str) -> type[BaseModel]:
    for route in _documented_routes(stack):
        if method in (route.methods or set()):
            model: type[BaseModel] = route.response_model
            return model
    raise AssertionError(f"no documented {method} route")
