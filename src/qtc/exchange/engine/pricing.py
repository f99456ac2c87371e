"""Price arithmetic of the simulated exchange: ticks, quotes around the last price, averages."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from qtc.domain.decimals import decimal_places, normalize
from qtc.domain.enums import Side
from qtc.domain.market import is_crypto

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")
NANO = Decimal("0.000000001")
MAX_QTY_DECIMALS = 9
_BPS = Decimal("10000")


def tick(symbol: str, price: Decimal) -> Decimal:
    """The price increment of `symbol` at `price`: cents for equities (1/100 cent under $1)."""
    if is_crypto(symbol):
        return NANO
    return CENT if price >= 1 else SUB_DOLLAR_TICK


def on_tick(symbol: str, price: Decimal) -> bool:
    """True when `price` is a whole number of ticks (Alpaca rejects sub-penny limit prices)."""
    step = tick(symbol, price)
    return decimal_places(price) <= decimal_places(step)


def round_to_tick(symbol: str, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """`price` rounded to the symbol's tick."""
    return normalize(price.quantize(tick(symbol, price), rounding=rounding))


def quote(symbol: str, last: Decimal, side: Side, half_spread_bps: Decimal) -> Decimal:
    """The price a marketable order pays now: the buyer pays up, the seller gives up."""
    spread = last * half_spread_bps / _BPS
    if side is Side.BUY:
        return round_to_tick(symbol, last + spread, ROUND_CEILING)
    return round_to_tick(symbol, last - spread, ROUND_FLOOR)


def average(notional: Decimal, qty: Decimal) -> Decimal:
    """The average price of `qty` that cost `notional`, to 1e-9 (the domain's price quantum)."""
    return normalize((notional / qty).quantize(NANO, rounding=ROUND_HALF_EVEN))


def floor_qty(qty: Decimal, whole: bool) -> Decimal:
    """`qty` rounded down to whole units (`whole`) or to the 9 decimals Alpaca accepts."""
    step = Decimal(1) if whole else NANO
    return normalize(qty.quantize(step, rounding=ROUND_DOWN))
