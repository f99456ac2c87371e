"""Query strings of the Alpaca routes, read strictly: a bad value is a 422, never a guess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from qtc.domain.enums import Side
from qtc.exchange.server.state import CODE_INVALID, AlpacaError

MAX_ORDERS_LIMIT = 500
DEFAULT_ORDERS_LIMIT = 50
MAX_ACTIVITIES_PAGE = 100
# Enough to filter by side after the engine's listing, which cannot filter by side itself.
_ALL = 1_000_000_000
# A query time outside these is a typo or an attack; refusing it keeps every later step (a
# day's span, minutes back from an end) far from the limits of `datetime` (years 1 and 9999).
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class OrderQuery:
    """`GET /v2/orders` parameters."""

    status: Literal["open", "closed", "all"]
    limit: int
    after: datetime | None
    until: datetime | None
    direction: Literal["asc", "desc"]
    symbols: list[str] | None
    side: Side | None
    nested: bool = False  # a group's legs inside their parent instead of listed alone

    @property
    def fetch_limit(self) -> int:
        """What to ask the engine for: everything when the side is filtered afterwards."""
        return _ALL if self.side is not None else self.limit


@dataclass(frozen=True)
class PageQuery:
    """`GET /v2/account/activities` parameters."""

    after: datetime | None
    until: datetime | None
    direction: Literal["asc", "desc"]
    page_size: int
    page_token: str | None

    def select(self, activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter (strictly after `after`, strictly before `until`), order, and page by the id
        of the last activity seen (`page_token`), as Alpaca does."""
        chosen = [a for a in activities if self._in_range(a["transaction_time"])]
        if self.direction == "desc":
            chosen.reverse()
        if self.page_token is not None:
            ids = [a["id"] for a in chosen]
            if self.page_token in ids:
                chosen = chosen[ids.index(self.page_token) + 1 :]
        return chosen[: self.page_size]

    def _in_range(self, stamp: str) -> bool:
        at = parse_time(stamp)
        if self.after is not None and at <= self.after:
            return False
        return not (self.until is not None and at >= self.until)


def parse_order_query(params: Mapping[str, str]) -> OrderQuery:
    """Read `status`, `limit`, `after`, `until`, `direction`, `symbols`, `side`, `nested`."""
    status = params.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise _invalid(f"invalid status {_shown(status)}")
    limit = _int(params.get("limit"), "limit", DEFAULT_ORDERS_LIMIT)
    if not 1 <= limit <= MAX_ORDERS_LIMIT:
        raise _invalid(f"limit must be between 1 and {MAX_ORDERS_LIMIT}")
    side_raw = params.get("side") or ""
    try:
        side = Side(side_raw) if side_raw else None
    except ValueError as e:
        raise _invalid(f"invalid side {_shown(side_raw)}") from e
    symbols_raw = params.get("symbols")
    symbols = [s.strip() for s in symbols_raw.split(",") if s.strip()] if symbols_raw else None
    return OrderQuery(
        status=status,  # type: ignore[arg-type]  # checked just above
        limit=limit,
        after=query_time(params.get("after"), "after"),
        until=query_time(params.get("until"), "until"),
        direction=_direction(params.get("direction"), "desc"),
        symbols=symbols,
        side=side,
        nested=(params.get("nested") or "").lower() == "true",
    )


def parse_page_query(params: Mapping[str, str]) -> PageQuery:
    """Read `after`, `until`, `date`, `direction`, `page_size`, `page_token`."""
    after = query_time(params.get("after"), "after")
    until = query_time(params.get("until"), "until")
    day = params.get("date")
    if day:
        try:
            start = datetime.combine(date.fromisoformat(day[:10]), datetime.min.time(), UTC)
        except ValueError as e:
            raise _invalid(f"invalid date {_shown(day)}") from e
        if not EARLIEST_TIME <= start < LATEST_TIME:
            raise _out_of_range("date", day)
        after, until = start - timedelta(microseconds=1), start + timedelta(days=1)
    page_size = _int(params.get("page_size"), "page_size", MAX_ACTIVITIES_PAGE)
    if not 1 <= page_size <= MAX_ACTIVITIES_PAGE:
        raise _invalid(f"page_size must be between 1 and {MAX_ACTIVITIES_PAGE}")
    return PageQuery(
        after=after,
        until=until,
        direction=_direction(params.get("direction"), "desc"),
        page_size=page_size,
        page_token=params.get("page_token") or None,
    )


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp (`Z`, an offset, or naive meaning UTC) or a date; ValueError when
    it is none, OverflowError when its offset takes it past year 1 or 9999."""
    text = value.strip().replace(" ", "+").replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def query_time(value: str | None, name: str) -> datetime | None:
    """The query parameter `name` as a UTC time (None when absent), or a 422 naming it when it
    is not a time or lies outside 1900..2999."""
    if not value:
        return None
    try:
        moment = parse_time(value)
    except OverflowError as e:
        raise _out_of_range(name, value) from e
    except ValueError as e:
        raise _invalid(f"invalid {name} {_shown(value)}: expected an RFC 3339 time") from e
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise _out_of_range(name, value)
    return moment


def _out_of_range(name: str, raw: str) -> AlpacaError:
    first, last = EARLIEST_TIME.year, LATEST_TIME.year - 1
    return _invalid(f"{name} {_shown(raw)} is out of range ({first} to {last})")


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as e:
        raise _invalid(f"invalid {name} {_shown(value)}: expected an integer") from e


def _shown(value: str) -> str:
    """A query value quoted for an error message, cut short when long."""
    return repr(value) if len(value) <= 40 else f"{value[:30]!r}..."


def _direction(value: str | None, default: Literal["asc", "desc"]) -> Literal["asc", "desc"]:
    if value is None or value == "":
        return default
    if value == "asc":
        return "asc"
    if value == "desc":
        return "desc"
    raise _invalid(f"invalid direction {_shown(value)}")


def _invalid(message: str) -> AlpacaError:
    return AlpacaError(422, CODE_INVALID, message)
