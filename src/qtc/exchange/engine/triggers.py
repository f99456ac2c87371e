"""Where on a bar's path a resting order trades: the bar path, stop triggers, trailing marks.

The bar path is the price's route through a minute: the open, then the low and the high in the
order the bar's direction implies (a bar that closes at or above its open went down first:
open, low, high, close; one that closes below went up first: open, high, low, close), then the
close, moving in straight lines between them. A stop triggers where the path first reaches it
(buy: price >= stop; sell: price <= stop): at the open when the bar opened beyond it (a gap,
filled at the open), otherwise at the stop itself. A triggered stop trades as a market order; a
triggered stop_limit as a limit on the rest of the path. A trailing stop's mark follows every
point of the path (sell: the highest price since submission; buy: the lowest), and its stop
trails the mark by trail_price or trail_percent; the path triggers it after the mark set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qtc.domain.enums import OrderType, Side
from qtc.domain.market import Bar
from qtc.exchange.engine.book import BookEntry
from qtc.exchange.engine.pricing import quote, round_to_tick

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Touch:
    """Where on the path an order trades: point `at`, `price`, and whether it trades as a
    market order (`market`: the half-spread applies) or at a limit price or better."""

    at: int
    price: Decimal
    market: bool


def bar_path(bar: Bar) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The four points of the bar's path (see the module docstring)."""
    if bar.close >= bar.open:
        return (bar.open, bar.low, bar.high, bar.close)
    return (bar.open, bar.high, bar.low, bar.close)


def crossed(side: Side, stop: Decimal, price: Decimal) -> bool:
    """True when `price` is at or beyond the stop (buy: at or above; sell: at or below)."""
    return price >= stop if side is Side.BUY else price <= stop


def trail_stop(entry: BookEntry, mark: Decimal) -> Decimal:
    """The stop a trailing stop's `mark` implies, on the symbol's tick."""
    sign = -1 if entry.side is Side.SELL else 1
    if entry.trail_price is not None:
        raw = mark + sign * entry.trail_price
    else:
        assert entry.trail_percent is not None  # admission demands one of the two
        raw = mark * (1 + sign * entry.trail_percent / _HUNDRED)
    return round_to_tick(entry.symbol, raw)


def set_mark(entry: BookEntry, price: Decimal) -> None:
    """Move a trailing stop's mark to `price` if it is a new high (sell) or low (buy)."""
    mark = entry.hwm
    if mark is None or (price > mark if entry.side is Side.SELL else price < mark):
        entry.hwm = price
        entry.stop_price = trail_stop(entry, price)


def _limit_touch(entry: BookEntry, path: tuple[Decimal, ...], start: int) -> Touch | None:
    limit = entry.limit_price
    assert limit is not None  # limit and stop_limit orders always carry one
    buy = entry.side is Side.BUY
    for at in range(start, len(path)):
        price = path[at]
        if price <= limit if buy else price >= limit:
            if at == 0:  # opening through the limit improves the price
                opened = round_to_tick(entry.symbol, price)
                return Touch(0, min(limit, opened) if buy else max(limit, opened), False)
            return Touch(at, limit, False)
    return None


def _stop_touch(entry: BookEntry, path: tuple[Decimal, ...]) -> Touch | None:
    stop = entry.stop_price
    assert stop is not None  # stop and stop_limit orders always carry one
    for at, price in enumerate(path):
        if crossed(entry.side, stop, price):
            return Touch(at, round_to_tick(entry.symbol, price) if at == 0 else stop, True)
    return None


def untouched_trailing(entry: BookEntry, low: Decimal, high: Decimal) -> bool:
    """True when a bar of range [low, high] neither moves a trailing stop's mark nor reaches
    its stop (most of them, most minutes: checked before walking the path)."""
    mark, stop = entry.hwm, entry.stop_price
    if mark is None or stop is None:
        return False
    if entry.side is Side.SELL:
        return high <= mark and low > stop
    return low >= mark and high < stop


def _trailing_touch(entry: BookEntry, path: tuple[Decimal, ...]) -> Touch | None:
    for at, price in enumerate(path):
        set_mark(entry, price)
        stop = entry.stop_price
        assert stop is not None
        if crossed(entry.side, stop, price):
            return Touch(at, round_to_tick(entry.symbol, price) if at == 0 else stop, True)
    return None


def touch(entry: BookEntry, path: tuple[Decimal, ...]) -> Touch | None:
    """Where `entry` trades on `path`, None if it does not; marks an order the path
    triggered (`triggered`) and moves a trailing stop's mark, whether it trades or not."""
    kind = entry.order_type
    if kind is OrderType.MARKET or (kind is not OrderType.STOP_LIMIT and entry.triggered):
        return Touch(0, path[0], True)
    if kind is OrderType.LIMIT or entry.triggered:
        return _limit_touch(entry, path, 0)
    if kind is OrderType.TRAILING_STOP:
        hit = _trailing_touch(entry, path)
    else:
        hit = _stop_touch(entry, path)
    if hit is None:
        return None
    entry.triggered = True
    if kind is not OrderType.STOP_LIMIT:
        return hit
    limit = entry.limit_price
    assert limit is not None
    if hit.price <= limit if entry.side is Side.BUY else hit.price >= limit:
        return Touch(hit.at, hit.price, False)
    return _limit_touch(entry, path, hit.at + 1)


def within_limit(entry: BookEntry, price: Decimal) -> bool:
    """True when `price` is at the order's limit or better (always, without a limit)."""
    if entry.limit_price is None:
        return True
    if entry.side is Side.BUY:
        return price <= entry.limit_price
    return price >= entry.limit_price


def auction_price(
    entry: BookEntry, price: Decimal, half_spread_bps: Decimal | None
) -> Decimal | None:
    """What an opg/cls order pays in its auction at `price`: a market order the quote (with
    `half_spread_bps`; None: the price itself), a limit order the price if within its limit."""
    if entry.limit_price is None and half_spread_bps is not None:
        return quote(entry.symbol, price, entry.side, half_spread_bps)
    price = round_to_tick(entry.symbol, price)
    return price if within_limit(entry, price) else None
