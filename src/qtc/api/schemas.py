"""Response shapes of the team API (for OpenAPI) and the fast renderers that produce them.

Decimals are JSON strings in plain notation, e.g. "10" or "530.25": quantities as the broker
gives them, cash and P&L to the cent, prices to the symbol's tick (the files keep exact values);
times are ISO-8601 in UTC with an explicit "+00:00" offset.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qtc.domain.decimals import dec_str
from qtc.domain.times import iso

DECIMAL_NOTE = "Decimal as a JSON string in plain notation (never a float)."
TIME_NOTE = "ISO-8601 time in UTC with an explicit +00:00 offset."


def plain(value: Any) -> Any:
    """JSON-ready copy of ledger/error lines: Decimals as strings, datetimes as UTC ISO-8601."""
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return value


def _dec(description: str, *default: None) -> Any:
    """A decimal-string field; `_dec(text, None)` for one only some orders have."""
    return Field(*default, description=f"{description}. {DECIMAL_NOTE}", examples=["10"])


class ErrorOut(BaseModel):
    """Every error answer: a human-readable `detail`."""

    model_config = ConfigDict(extra="allow")
    detail: str


class Shape(BaseModel):
    """A response shape: a field the view adds without declaring it here fails the tests."""

    model_config = ConfigDict(extra="forbid")


class OrderOut(Shape):
    """One order of the team, open or closed."""

    order_id: str = Field(description="The platform's id (sent to the broker as client id).")
    team_id: str
    symbol: str
    side: str = Field(description="buy or sell")
    quantity: str = _dec("Ordered quantity")
    order_type: str = Field(description="market, limit, stop, stop_limit or trailing_stop")
    limit_price: str | None = _dec("Limit price (null for market orders)")
    status: str = Field(description="Alpaca's order status, e.g. new, partially_filled, filled")
    filled_qty: str = _dec("Cumulative filled quantity")
    filled_avg_price: str | None = _dec("Average price of the fills so far")
    time_in_force: str = Field(description="day, gtc, ioc, fok, opg or cls")
    created_at: str = Field(description=TIME_NOTE)
    updated_at: str = Field(description=TIME_NOTE)
    requested_price: str = _dec("Price the strategy asked for")
    broker_order_id: str | None = Field(description="The broker's id, once known.")
    reason: str | None = Field(description="Why the order was rejected or closed, if known.")
    extra: dict[str, Any] = Field(
        description="Extra keys of the strategy's signal (e.g. reason, confidence), kept as sent."
    )
    broker_status: str | None = Field(
        default=None,
        description="Only on a quarantined order: the status the broker reports, which QTC "
        "does not know (the order stays open and is not acted on).",
    )
    stop_price: str | None = _dec("stop and stop_limit: the trigger (trailing_stop: now)", None)
    trail_price: str | None = _dec("trailing_stop: the trail in dollars", None)
    trail_percent: str | None = _dec("trailing_stop: the trail in percent", None)
    order_class: str | None = Field(
        default=None, description="bracket, oco or oto (absent for a simple order)"
    )
    take_profit_limit_price: str | None = _dec("bracket/oco/oto: the take-profit limit", None)
    stop_loss_stop_price: str | None = _dec("bracket/oco/oto: the stop-loss trigger", None)
    stop_loss_limit_price: str | None = _dec("bracket/oco/oto: the stop-loss limit", None)
    parent_id: str | None = Field(
        default=None, description="A bracket/oco/oto leg: the order_id of its group's order."
    )
    replaces: str | None = Field(default=None, description="The order_id this one replaced.")
    notional: str | None = _dec("A notional order's dollar amount (quantity: what it buys)", None)
    replaced_by: str | None = Field(
        default=None, description="The order_id that replaced this one (status replaced)."
    )


class ReplaceIn(BaseModel):
    """What to change on an open order; at least one field."""

    model_config = ConfigDict(extra="forbid")
    quantity: str | None = Field(default=None, description="The new order's quantity.")
    price: str | None = Field(default=None, description="New limit price (limit, stop_limit).")
    stop_price: str | None = Field(default=None, description="New stop (stop, stop_limit).")
    trail: str | None = Field(default=None, description="New trail (trailing_stop).")
    time_in_force: str | None = Field(default=None, description="day, gtc, ...")

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class OpenOrdersOut(Shape):
    """The team's open orders, oldest first."""

    team_id: str
    open_orders_count: int
    orders: list[OrderOut]


class OrdersPageOut(Shape):
    """A page of the team's orders, newest first."""

    team_id: str
    status: str
    count: int
    orders: list[OrderOut]
    next_after: str | None = Field(
        description="Pass as `after` to get the next (older) page; null on the last page."
    )


class CancelOut(Shape):
    """The answer to a cancel request."""

    success: bool
    order_id: str
    message: str
    status: str = Field(description="The order's status after the request (pending_cancel...)")


class TradesOut(Shape):
    """The team's ledger lines (one per execution), newest first."""

    team_id: str
    count: int
    trades: list[dict[str, Any]] = Field(
        description="Ledger lines: symbol, side, quantity, execution_price, requested_price, "
        f"order_id, execution_id, filled_qty, timestamp, ... {DECIMAL_NOTE}"
    )


class PositionOut(Shape):
    """One position valued at the last known price (at cost when none is known)."""

    symbol: str
    quantity: str = _dec("Signed quantity (negative is short)")
    avg_cost: str = _dec("Average cost of the open quantity")
    price: str = _dec("Last price used for valuation")
    market_value: str = _dec("quantity x price, to the cent")
    unrealized_pnl: str = _dec("(price - avg_cost) x quantity")


class PortfolioOut(Shape):
    """The team's virtual portfolio, a fold over its ledger."""

    team_id: str
    initial_cash: str = _dec("Starting capital")
    cash: str = _dec("Cash after all fills")
    reserved_cash: str = _dec("Cash held back by open buy orders")
    free_cash: str = _dec("cash - reserved_cash: what new buys may use")
    positions: list[PositionOut]
    positions_value: str = _dec("Sum of the positions' market values")
    equity: str = _dec("cash + positions_value, to the cent")
    market_value: str = _dec("Deprecated: the old name of `equity`, removed in the next release")
    realized_pnl: str = _dec("Profit and loss of closed quantity")
    unrealized_pnl: str = _dec("Profit and loss of open positions at the last prices")
    return_pct: str = _dec("(equity / initial_cash - 1) x 100, to four decimals")


class WhoAmIOut(Shape):
    """Which team a key belongs to (how the team console finds its team)."""

    team_id: str


class ErrorsOut(Shape):
    """The team's strategy and order errors (errors.jsonl lines), newest first."""

    team_id: str
    count: int
    errors: list[dict[str, Any]]


class LeaderboardOut(Shape):
    """Teams ranked by equity (or `sort_by`), best first."""

    teams: list[dict[str, Any]] = Field(
        description="One entry per team: rank, team_id, equity (market_value: its deprecated "
        "old name), cash, return_pct, fills, open_orders; and the metrics of the minute "
        "snapshots and the ledger (README, Leaderboard metrics), numbers or null when they "
        "cannot be computed: total_return_pct, annualized_return_pct, volatility_pct, "
        "sharpe, sortino, calmar, max_drawdown_pct, max_drawdown_minutes, win_rate_pct, "
        "profit_factor, round_trips, and fees (a decimal string). " + DECIMAL_NOTE
    )


class CurveOut(Shape):
    """One team's equity curve: the last snapshot of each minute, downsampled."""

    team_id: str
    count: int = Field(description="Minutes in the range before downsampling.")
    times: list[str] = Field(description=f"The minutes shown, oldest first. {TIME_NOTE}")
    equity: list[str] = Field(description=f"Equity at each of `times`, to the cent. {DECIMAL_NOTE}")


class HistoryOut(Shape):
    """Equity curves of the teams asked for (every team when none is named)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str | None = Field(alias="from", description=f"Start of the range. {TIME_NOTE}")
    to: str | None = Field(description=f"End of the range (inclusive). {TIME_NOTE}")
    points: int = Field(description="At most this many points per team.")
    teams: list[CurveOut]


class StatusOut(BaseModel):
    """What the competition is doing (running, market open, last minute, teams, open orders)."""

    model_config = ConfigDict(extra="allow")


class HealthOut(BaseModel):
    """The process is up."""

    status: str = Field(examples=["ok"])


class CheckOut(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str = Field(examples=["the update stream is connected"])


class ReadinessOut(BaseModel):
    """Every readiness check (broker, stream, minutes), and the names of those that failed."""

    model_config = ConfigDict(extra="allow")
    ready: bool
    failed: list[str]
    checks: dict[str, CheckOut]
