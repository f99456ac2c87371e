"""Conversion of numbers from strategies, brokers and files into exact `Decimal`s."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Literal

# A binary float carries at most 15 trustworthy significant decimal digits; reading it through
# them turns 0.1 + 0.2 into 0.3 instead of 0.30000000000000004.
_FLOAT_DIGITS = 15

ZERO = Decimal(0)

# Beyond 1E+40 or below 1E-40 nothing QTC reads is a real number of shares, dollars or volume;
# refusing them here keeps every later step (normalize, quantize, `{:.2f}`, a file line) small
# and far from the default context's Overflow.
_EXPONENT_LIMIT = 40
# A number written with more characters than this is an attack or a bug, never a price.
_MAX_TEXT = 100
_MAX_INT = 10**_MAX_TEXT

MAX_DIGITS = 18

Kind = Literal["quantity", "price", "notional", "capital"]


class NotANumber(ValueError):
    """The value is not a number QTC accepts: unreadable, not finite, or out of its range."""


class OutOfRange(NotANumber):
    """A finite number outside what a quantity, price, notional or capital may be."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """Smallest and largest magnitude of one kind of number, and its significant digits."""

    smallest: Decimal
    largest: Decimal
    digits: int | None = MAX_DIGITS


# Quantity x price stays within 1E+18, so a cost quantized to 1E-9 still fits the default
# context's 28 digits: no arithmetic on validated numbers can raise or lose the cents.
BOUNDS: dict[Kind, Bounds] = {
    "quantity": Bounds(Decimal("1E-9"), Decimal("1E+9")),
    "price": Bounds(Decimal("1E-9"), Decimal("1E+9")),
    "notional": Bounds(Decimal("1E-18"), Decimal("1E+18"), digits=None),
    "capital": Bounds(Decimal("0.01"), Decimal("1E+15")),
}


def _parse(value: Any) -> Decimal:
    """`value` as a finite Decimal, exactly as written (not normalized, no range check)."""
    if isinstance(value, bool):
        raise NotANumber(f"{value!r} is a boolean, not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if abs(value) >= _MAX_INT:
            raise NotANumber("an integer of more than 100 digits is not a number QTC accepts")
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotANumber(f"{value!r} is not a finite number")
        result = Decimal(format(value, f".{_FLOAT_DIGITS}g"))
    elif isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise NotANumber(f"{value[:20]!r}... is too long to be a number")
        try:
            result = Decimal(value.strip())
        except InvalidOperation as e:
            raise NotANumber(f"{value!r} is not a number") from e
    else:
        # numpy scalars and the like: go through float only if they really are numbers
        try:
            as_float = float(value)
        except (TypeError, ValueError, OverflowError) as e:
            raise NotANumber(f"{type(value).__name__} is not a number") from e
        return _parse(as_float)
    if not result.is_finite():
        raise NotANumber(f"{_shown(value)} is not a finite number")
    return result


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, Decimal) else str(value)
    return text if len(text) <= 40 else f"{text[:30]}..."


def _significant_digits(value: Decimal) -> int:
    digits = value.as_tuple().digits
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(len(digits) - trailing, 1)


def bounded_decimal(value: Any, what: Kind, *, positive: bool = True) -> Decimal:
    """`value` as a Decimal a `what` may be, or OutOfRange/NotANumber naming `what`.

    Never negative; zero only with `positive=False`; otherwise within `BOUNDS[what]`. Only
    ValueError subclasses leave this function, never an ArithmeticError.
    """
    bounds = BOUNDS[what]
    try:
        number = _parse(value)
    except NotANumber as e:
        raise NotANumber(f"{what}: {e}") from e
    shown = _shown(number)
    if number < 0 or (positive and number == 0):
        rule = "positive" if positive else "zero or positive"
        raise OutOfRange(f"{what} must be {rule}, got {shown}")
    if number == 0:
        return ZERO
    if number > bounds.largest:
        raise OutOfRange(f"{what} {shown} is too large (at most {dec_str(bounds.largest)})")
    if number < bounds.smallest:
        raise OutOfRange(f"{what} {shown} is too small (at least {dec_str(bounds.smallest)})")
    if bounds.digits is not None and _significant_digits(number) > bounds.digits:
        raise OutOfRange(f"{what} {shown} has more than {bounds.digits} significant digits")
    return normalize(number)


def to_decimal(value: Any) -> Decimal:
    """Return `value` as a finite Decimal; floats are read through 15 significant digits.

    Numbers beyond 1E+40 or below 1E-40 (other than zero), and texts longer than 100
    characters, are refused with NotANumber.
    """
    result = _parse(value)
    if result != 0 and not -_EXPONENT_LIMIT <= result.adjusted() <= _EXPONENT_LIMIT:
        raise OutOfRange(f"{_shown(value)} is out of range")
    return normalize(result)


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation for whole numbers."""
    if value == 0:
        return ZERO
    norm = value.normalize()
    exponent = norm.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        # 1E+30 needs 31 digits as a whole number: more than the default context's 28
        digits = len(norm.as_tuple().digits) + exponent
        return norm.quantize(Decimal(1), context=Context(prec=max(digits, 28)))
    return norm


def decimal_places(value: Decimal) -> int:
    """Number of digits after the decimal point of a normalized Decimal."""
    exponent = normalize(value).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def dec_str(value: Decimal | None) -> str | None:
    """Render a Decimal for files and JSON (plain notation, no exponent)."""
    if value is None:
        return None
    return format(normalize(value), "f")
