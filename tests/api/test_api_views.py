"""What a team sees: open orders, history pages, trades, portfolio, errors; public pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Stack

ORDER_FIELDS = {
    "order_id",
    "team_id",
    "symbol",
    "side",
    "quantity",
    "order_type",
    "limit_price",
    "status",
    "filled_qty",
    "filled_avg_price",
    "time_in_force",
    "created_at",
    "updated_at",
    "requested_price",
    "broker_order_id",
    "reason",
    "extra",
}


def test_open_orders_show_partial_fills_oldest_first(stack: Stack) -> None:
    big = stack.place("alpha", "AAPL", "buy", "300", "99.5")
    small = stack.place("alpha", "NVDA", "buy", "2", "450", tif="day")
    stack.place("beta", "AAPL", "buy", "1", "90")
    # 10% of 1000 = 100 shares of liquidity: the 300-share order fills a third
    stack.trade_minute("AAPL", low="99", high="101", volume="1000")
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", big.order_id).filled_qty == 100, "partial fill"
    )
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        body = client.get("/api/v1/team/alpha/orders/open").json()
    assert body["team_id"] == "alpha" and body["open_orders_count"] == 2
    first, second = body["orders"]
    assert set(first) == ORDER_FIELDS
    assert [first["order_id"], second["order_id"]] == [big.order_id, small.order_id]
    assert first["status"] == "partially_filled"
    assert (first["filled_qty"], first["quantity"]) == ("100", "300")
    assert first["filled_avg_price"] == "99.5" and first["limit_price"] == "99.5"
    assert (second["time_in_force"], second["filled_avg_price"]) == ("day", None)
    for stamp in (first["created_at"], first["updated_at"]):
        assert stamp.endswith("+00:00") and datetime.fromisoformat(stamp).tzinfo is not None


def test_orders_page_newest_first_until_the_last_page(stack: Stack) -> None:
    placed = [stack.place("alpha", "AAPL", "buy", "1", str(80 + i)).order_id for i in range(5)]
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        client.delete(f"/api/v1/team/alpha/orders/{placed[1]}").raise_for_status()
        stack.wait_for(
            lambda: not stack.tracker.get_order("alpha", placed[1]).is_open, "the cancel"
        )
        seen: list[str] = []
        after = None
        for _ in range(10):
            params = {"limit": 2} | ({"after": after} if after else {})
            page = client.get("/api/v1/team/alpha/orders", params=params).json()
            seen += [o["order_id"] for o in page["orders"]]
            after = page["next_after"]
            if after is None:
                break
        closed = client.get("/api/v1/team/alpha/orders", params={"status": "closed"}).json()
        open_ = client.get("/api/v1/team/alpha/orders", params={"status": "open"}).json()
    assert seen == list(reversed(placed))
    assert [o["order_id"] for o in closed["orders"]] == [placed[1]]
    assert closed["orders"][0]["status"] == "canceled"
    assert {o["order_id"] for o in open_["orders"]} == set(placed) - {placed[1]}


def test_paging_never_skips_an_order_that_leaves_memory_between_two_pages(stack: Stack) -> None:
    placed = [stack.place("alpha", "AAPL", "buy", "1", str(80 + i)).order_id for i in range(6)]
    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        for order_id in (placed[0], placed[1], placed[4]):
            client.delete(f"/api/v1/team/alpha/orders/{order_id}").raise_for_status()
        stack.wait_for(
            lambda: not stack.tracker.get_order("alpha", placed[4]).is_open, "the cancels"
        )
        first = client.get("/api/v1/team/alpha/orders", params={"limit": 2}).json()
        # the closed orders (the page's last one among them) leave memory before the next page
        later = datetime.now(UTC) + timedelta(days=365)
        dropped: list[int] = []
        stack.call(_async(lambda: dropped.append(stack.tracker.cleanup(later))))
        assert dropped == [3]
        seen = [o["order_id"] for o in first["orders"]]
        after = first["next_after"]
        for _ in range(10):
            page = client.get("/api/v1/team/alpha/orders", params={"limit": 2, "after": after})
            seen += [o["order_id"] for o in page.json()["orders"]]
            after = page.json()["next_after"]
            if after is None:
                break
    assert seen == list(reversed(placed))


def test_trades_portfolio_and_errors_follow_the_ledger(stack: Stack) -> None:
    first = stack.place("alpha", "AAPL", "buy", "10", "99")
    stack.trade_minute("AAPL", low="98", high="100", volume="10000")
    second = stack.place("alpha", "AAPL", "buy", "5", "97")
    stack.trade_minute("AAPL", low="96", high="97", volume="10000")
    resting = stack.place("alpha", "NVDA", "buy", "2", "400")
    stack.wait_for(lambda: len(stack.tracker.trades("alpha", 10)) == 2, "two fills")
    stack.call(_async(lambda: stack.tracker.record_error("alpha", "strategy", "boom")))

    with stack.client(headers={"X-API-Key": stack.key["alpha"]}) as client:
        trades = client.get("/api/v1/team/alpha/trades").json()
        one = client.get("/api/v1/team/alpha/trades", params={"limit": 1}).json()
        book = client.get("/api/v1/team/alpha/portfolio").json()
        errors = client.get("/api/v1/team/alpha/errors").json()

    assert [t["order_id"] for t in trades["trades"]] == [second.order_id, first.order_id]
    assert one["count"] == 1 and one["trades"][0]["order_id"] == second.order_id
    assert trades["trades"][1]["execution_price"] == "99"
    assert trades["trades"][1]["quantity"] == "10"

    cash = Decimal(100000) - 10 * Decimal(99) - 5 * Decimal(97)
    reserved = 2 * Decimal(400)
    assert Decimal(book["cash"]) == cash
    assert Decimal(book["reserved_cash"]) == reserved
    assert Decimal(book["free_cash"]) == cash - reserved
    (position,) = book["positions"]
    assert position["symbol"] == "AAPL" and position["quantity"] == "15"
    last = Decimal(position["price"])  # the last bar's close
    assert last == Decimal(96)
    assert Decimal(book["market_value"]) == cash + 15 * last
    assert Decimal(book["unrealized_pnl"]) == 15 * last - (10 * Decimal(99) + 5 * Decimal(97))
    assert book["realized_pnl"] == "0"
    assert resting.order_id not in {t["order_id"] for t in trades["trades"]}

    assert errors["count"] == 1 and errors["errors"][0]["message"] == "boom"


def test_public_status_leaderboard_and_docs_need_no_key(stack: Stack) -> None:
    stack.place("alpha", "AAPL", "buy", "10", "99")
    stack.trade_minute("AAPL", low="98", high="120", volume="10000", close="110")
    stack.wait_for(lambda: len(stack.tracker.trades("alpha", 10)) == 1, "the fill")
    with stack.client() as client:
        status = client.get("/api/v1/status").json()
        board = client.get("/leaderboard").json()
        docs = client.get("/docs")
        schema = client.get("/openapi.json").json()
    assert status["teams"] == 2 and status["open_orders"] == 0
    assert [t["team_id"] for t in board["teams"]] == ["alpha", "beta"]
    assert board["teams"][0]["rank"] == 1
    assert Decimal(board["teams"][0]["return_pct"]) > 0
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/api/v1/team/{team_id}/orders/open" in schema["paths"]
    assert "JSON string" in schema["info"]["description"]


def _async(fn):  # type: ignore[no-untyped-def]
    async def run() -> None:
        fn()

    return run
