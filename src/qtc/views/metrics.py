"""A team's performance and risk metrics, from its minute equity series and its ledger.

Pure and incremental: `EquityStats` takes one (time, equity) point at a time and
`RoundTrips` one fill at a time, each in O(1), so the leaderboard can follow a live run
minute by minute; `team_metrics` is the same over whole lists. The formulas are in the
README ("Leaderboard metrics"). A metric that cannot be computed is None (JSON null), never
inf or NaN. Ratios are floats; money (fees, round-trip P&L) stays Decimal.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from qtc.domain.decimals import ZERO, to_decimal
from qtc.domain.enums import Side

# One return per minute of the series; a year is 252 sessions of 390 minutes (NYSE hours).
SESSIONS_PER_YEAR = 252
MINUTES_PER_SESSION = 390
PERIODS_PER_YEAR = SESSIONS_PER_YEAR * MINUTES_PER_SESSION
# The annual risk-free rate in Sharpe and Sortino: 0 (a competition of a few sessions).
RISK_FREE_RATE = 0.0
RISK_FREE_PER_MINUTE = (1.0 + RISK_FREE_RATE) ** (1.0 / PERIODS_PER_YEAR) - 1.0

# every metric a leaderboard row carries, and whether a larger value ranks higher
HIGHER_IS_BETTER = {
    "total_return_pct": True,
    "annualized_return_pct": True,
    "volatility_pct": False,
    "sharpe": True,
    "sortino": True,
    "calmar": True,
    "max_drawdown_pct": False,
    "max_drawdown_minutes": False,
    "win_rate_pct": True,
    "profit_factor": True,
    "round_trips": True,
    "fees": False,
}
METRICS = tuple(HIGHER_IS_BETTER)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass(slots=True)
class EquityStats:
    """Running statistics of a minute equity series (the last point of each minute counts).

    Points of one minute replace each other until a later minute arrives (a snapshot after
    a fill, then the minute's own); a point older than the last minute is ignored.
    """

    first: float | None = None
    last: float | None = None
    last_minute: datetime | None = None
    returns: int = 0
    mean: float = 0.0  # Welford's running mean and sum of squared deviations
    m2: float = 0.0
    downside: float = 0.0  # sum of squared returns below the risk-free rate
    broken: bool = False  # the series touched zero or below: returns are undefined
    peak: float = 0.0
    peak_step: int = 0
    max_drawdown: float = 0.0
    longest_under: int = 0
    pending: tuple[datetime, float] | None = None

    def add(self, at: datetime, equity: Decimal) -> None:
        """Take one snapshot's equity at `at`."""
        minute = _minute(at)
        if self.pending is not None:
            if minute < self.pending[0]:
                return
            if minute > self.pending[0]:
                self._commit(*self.pending)
        elif self.last_minute is not None and minute <= self.last_minute:
            return
        self.pending = (minute, float(equity))

    def _commit(self, minute: datetime, value: float) -> None:
        if self.last is None:
            self.first = self.peak = value
        else:
            self._add_return(value)
        self.last, self.last_minute = value, minute
        self.pending = None

    def _add_return(self, value: float) -> None:
        assert self.last is not None
        if self.last <= 0 or self.broken:
            self.broken = True
            return
        r = value / self.last - 1.0
        self.returns += 1
        delta = r - self.mean
        self.mean += delta / self.returns
        self.m2 += delta * (r - self.mean)
        self.downside += min(r - RISK_FREE_PER_MINUTE, 0.0) ** 2
        if value >= self.peak:
            steps = self.returns - self.peak_step
            if steps > 1:  # one step from peak to peak has no point below it
                self.longest_under = max(self.longest_under, steps)
            self.peak, self.peak_step = value, self.returns
        else:
            self.max_drawdown = max(self.max_drawdown, 1.0 - value / self.peak)

    def settled(self) -> EquityStats:
        """A copy with the pending minute committed (what the metrics are computed from)."""
        out = copy.copy(self)
        if out.pending is not None:
            out._commit(*out.pending)
        return out

    def metrics(self) -> dict[str, Any]:
        """The series metrics, None where they cannot be computed."""
        s = self.settled()
        ok = s.returns > 0 and not s.broken
        growth = s.last / s.first if ok and s.first and s.last else None
        annual = _annualized(growth, s.returns)
        std = math.sqrt(s.m2 / (s.returns - 1)) if ok and s.returns > 1 else None
        down = math.sqrt(s.downside / s.returns) if ok and s.returns > 1 else None
        excess = s.mean - RISK_FREE_PER_MINUTE
        scale = math.sqrt(PERIODS_PER_YEAR)
        under = max(s.longest_under, s.returns - s.peak_step)
        return {
            "total_return_pct": _finite((growth - 1.0) * 100) if growth else None,
            "annualized_return_pct": _finite(annual * 100) if annual is not None else None,
            "volatility_pct": _finite(std * scale * 100) if std is not None else None,
            "sharpe": _finite(excess / std * scale) if std else None,
            "sortino": _finite(excess / down * scale) if down else None,
            "calmar": _calmar(annual, s.max_drawdown),
            "max_drawdown_pct": s.max_drawdown * 100 if ok else None,
            "max_drawdown_minutes": under if ok else None,
        }


def _calmar(annual: float | None, max_drawdown: float) -> float | None:
    return _finite(annual / max_drawdown) if annual is not None and max_drawdown else None


def _annualized(growth: float | None, periods: int) -> float | None:
    """(growth ^ (periods per year / periods)) - 1; None when it overflows."""
    if growth is None or growth <= 0 or periods == 0:
        return None
    try:
        return _finite(math.exp(math.log(growth) * PERIODS_PER_YEAR / periods) - 1.0)
    except OverflowError:
        return None


@dataclass(slots=True)
class _Lot:
    quantity: Decimal  # signed: negative is short
    price: Decimal


@dataclass(slots=True)
class RoundTrips:
    """Closed round trips, FIFO per symbol: each execution that reduces a position closes
    one round trip, whose P&L is summed over the opening lots it closes, oldest first."""

    lots: dict[str, deque[_Lot]] = field(default_factory=dict)
    closed: int = 0
    wins: int = 0
    gross_profit: Decimal = ZERO
    gross_loss: Decimal = ZERO
    fills: int = 0
    fees: Decimal = ZERO

    def add(self, symbol: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        """Take one execution (in ledger order)."""
        self.fills += 1
        self.fees += fee
        signed = quantity if side is Side.BUY else -quantity
        book = self.lots.setdefault(symbol, deque())
        pnl, closing = ZERO, False
        while signed and book and (book[0].quantity > 0) != (signed > 0):
            lot = book[0]
            matched = min(abs(signed), abs(lot.quantity))
            direction = 1 if lot.quantity > 0 else -1
            pnl += matched * (price - lot.price) * direction
            lot.quantity -= matched * direction
            signed += matched * direction
            closing = True
            if not lot.quantity:
                book.popleft()
        if signed:
            book.append(_Lot(signed, price))
        if closing:
            self._close(pnl)

    def _close(self, pnl: Decimal) -> None:
        self.closed += 1
        if pnl > 0:
            self.wins += 1
            self.gross_profit += pnl
        elif pnl < 0:
            self.gross_loss -= pnl

    def metrics(self) -> dict[str, Any]:
        """Win rate, profit factor, round trips, fees."""
        win_rate = self.wins / self.closed * 100 if self.closed else None
        factor = float(self.gross_profit / self.gross_loss) if self.gross_loss else None
        return {
            "win_rate_pct": win_rate,
            "profit_factor": factor,
            "round_trips": self.closed,
            "fees": self.fees,
        }

    def add_line(self, line: Mapping[str, Any]) -> None:
        """Take one ledger line (as in trades.jsonl; a `fee` field counts when present)."""
        self.add(
            str(line["symbol"]),
            Side(line["side"]),
            to_decimal(line["quantity"]),
            to_decimal(line["execution_price"]),
            to_decimal(line.get("fee") or 0),
        )


def team_metrics(
    equity: Iterable[tuple[datetime, Decimal]], ledger: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Every metric of one team: its equity series (oldest first) and its ledger lines."""
    stats, trips = EquityStats(), RoundTrips()
    for at, value in equity:
        stats.add(at, value)
    for line in ledger:
        trips.add_line(line)
    return {**stats.metrics(), **trips.metrics()}
