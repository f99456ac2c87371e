"""Money and prices as people read them: cash and P&L to the cent, prices to the tick.

Only what is shown is rounded (half up); the ledger, the order files and the snapshots keep
the exact values they were computed with.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from qtc.domain.decimals import dec_str
from qtc.domain.market import price_tick

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """An amount of dollars to the cent, e.g. "23.64" (trailing zeros dropped: "100000")."""
    return format_dec(value.quantize(CENT, rounding=ROUND_HALF_UP))


def price(symbol: str, value: Decimal | None) -> str | None:
    """A price of `symbol` to its tick (None stays None)."""
    if value is None:
        return None
    return format_dec(value.quantize(price_tick(symbol, abs(value)), rounding=ROUND_HALF_UP))


def format_dec(value: Decimal) -> str:
    """Plain notation, as every decimal in QTC's JSON."""
    text = dec_str(value)
    assert text is not None
    return text


# ".01" ... ".99" as `money` writes them (trailing zeros dropped: 10 -> ".1", 0 -> "")
_CENTS_TEXT = ["", *(f".{c:02d}".rstrip("0") for c in range(1, 100))]


def money_from_cents(cents: int) -> str:
    """`money` of an amount already counted in cents, e.g. 2360 -> "23.6" (fast: no Decimal)."""
    if cents < 0:
        return "-" + money_from_cents(-cents)
    whole, part = divmod(cents, 100)
    return f"{whole}{_CENTS_TEXT[part]}"
