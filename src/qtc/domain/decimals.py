"""Conversion of numbers from strategies, brokers and files into exact `Decimal`s."""

from __future__ import annotations

import math
from decimal import Context, Decimal, InvalidOperation
from typing import Any

# A binary float carries at most 15 trustworthy significant decimal digits; reading it through
# them turns 0.1 + 0.2 into 0.3 instead of 0.30000000000000004.
_FLOAT_DIGITS = 15

ZERO = Decimal(0)


class NotANumber(ValueError):
    """The value cannot be read as a finite decimal number."""


def to_decimal(value: Any) -> Decimal:
    """Return `value` as a finite Decimal; floats are read through 15 significant digits."""
    if isinstance(value, bool):
        raise NotANumber(f"{value!r} is a boolean, not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotANumber(f"{value!r} is not a finite number")
        result = Decimal(format(value, f".{_FLOAT_DIGITS}g"))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as e:
            raise NotANumber(f"{value!r} is not a number") from e
    else:
        # numpy scalars and the like: go through float only if they really are numbers
        try:
            as_float = float(value)
        except (TypeError, ValueError) as e:
            raise NotANumber(f"{type(value).__name__} is not a number") from e
        return to_decimal(as_float)
    if not result.is_finite():
        raise NotANumber(f"{value!r} is not a finite number")
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
