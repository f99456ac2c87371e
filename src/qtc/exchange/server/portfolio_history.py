"""The account's equity over time for `GET /v2/account/portfolio/history`, bounded in memory.

The driver records the equity after every minute it feeds: the last `MINUTES_KEPT` minutes are
kept for intraday timeframes, and one closing value per New York day for `1D` (`DAYS_KEPT`).
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MINUTES_KEPT = 14 * 1440
DAYS_KEPT = 3660
TIMEFRAMES = {
    "1Min": timedelta(minutes=1),
    "5Min": timedelta(minutes=5),
    "15Min": timedelta(minutes=15),
    "1H": timedelta(hours=1),
    "1D": timedelta(days=1),
}
_PERIOD = re.compile(r"^(\d{1,4})([DWMA])$")
_PERIOD_DAYS = {"D": 1, "W": 7, "M": 30, "A": 365}


class HistoryQueryError(ValueError):
    """A period, timeframe or time the history cannot be asked for (the message says which)."""


@dataclass(frozen=True, slots=True)
class _Point:
    at: datetime
    equity: Decimal


class EquityHistory:
    """Equity samples: a bounded minute series and one value per New York day."""

    def __init__(self) -> None:
        self._minutes: deque[_Point] = deque(maxlen=MINUTES_KEPT)
        self._days: OrderedDict[date, _Point] = OrderedDict()

    def record(self, at: datetime, equity: Decimal) -> None:
        """Note the equity at `at` (the end of a minute just fed)."""
        point = _Point(at.astimezone(UTC), equity)
        self._minutes.append(point)
        day = point.at.astimezone(NEW_YORK).date()
        self._days[day] = point
        self._days.move_to_end(day)
        while len(self._days) > DAYS_KEPT:
            self._days.popitem(last=False)

    def query(
        self,
        now: datetime,
        period: str | None,
        timeframe: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any]:
        """Alpaca's PortfolioHistory body for the window (default a month, daily points)."""
        span = _period(period or "1M")
        step_name = timeframe or (
            "1Min" if span < timedelta(days=7) else "15Min" if span < timedelta(days=30) else "1D"
        )
        step = TIMEFRAMES.get(step_name)
        if step is None:
            raise HistoryQueryError(f"invalid timeframe {step_name!r}")
        last = end or now
        first = start or last - span
        if step_name == "1D":
            buckets = [
                (datetime.combine(day, time(), NEW_YORK), p.equity)
                for day, p in self._days.items()
                if first <= p.at <= last
            ]
        else:
            chosen: dict[datetime, Decimal] = {}
            for p in self._minutes:
                if first <= p.at <= last:
                    chosen[_floor(p.at, step)] = p.equity  # the bucket's last value wins
            buckets = list(chosen.items())
        base = buckets[0][1] if buckets else Decimal(0)
        return {
            "timestamp": [int(at.timestamp()) for at, _ in buckets],
            "equity": [float(v) for _, v in buckets],
            "profit_loss": [float(v - base) for _, v in buckets],
            "profit_loss_pct": [float((v - base) / base) if base else None for _, v in buckets],
            "base_value": float(base),
            "timeframe": step_name,
            "cashflow": {},
        }


def _period(raw: str) -> timedelta:
    match = _PERIOD.match(raw)
    if match is None:
        raise HistoryQueryError(f"invalid period {raw!r}: a number and D, W, M or A")
    return timedelta(days=int(match.group(1)) * _PERIOD_DAYS[match.group(2)])


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)
